/**
 * The input picture: read from a dropped, pasted or picked file (or a result to expand again), judged
 * with the contract's own rules before anything is uploaded (src/contract/rules.ts: the same checks and
 * messages as the API), and measured upright (EXIF orientation applied, as the API does).
 */
import { invalidParameter } from '../contract/errors.js';
import { checkImageFile, checkImageSize, type ImageFormat } from '../contract/rules.js';

export interface Picture {
  bytes: Uint8Array;
  format: ImageFormat;
  /** Upright size in pixels. */
  width: number;
  height: number;
  /** An object URL showing the picture (revoked when the picture is replaced). */
  url: string;
  name: string;
}

/** Reads and judges a picture; throws the contract's ApiError (`image: …`) when the API would refuse it. */
export async function loadPicture(blob: Blob, name: string): Promise<Picture> {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  const format = checkImageFile(bytes);
  const typed = new Blob([bytes], { type: format === 'png' ? 'image/png' : 'image/jpeg' });
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(typed, { imageOrientation: 'from-image' });
  } catch {
    throw invalidParameter('image', `is a corrupt ${format.toUpperCase()} file (the browser cannot decode it)`);
  }
  const { width, height } = bitmap;
  bitmap.close();
  checkImageSize(width, height);
  return { bytes, format, width, height, url: URL.createObjectURL(typed), name };
}

/** The bytes as raw base64 (no `data:` prefix), as the API's `image` field takes them. */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  return btoa(binary);
}
