/**
 * Judging an input image by its content, not its name: the format from magic bytes, the size from sharp's
 * header read, and a full decode to catch corrupt or truncated files before a task is accepted.
 * Shared by the HTTP API and the CLI, so both refuse the same files with the same messages.
 */
import sharp from 'sharp';
import { invalidParameter } from '../contract/errors.js';
import type { RasterImage } from '../engine/types.js';
import { checkImageFile, checkImageSize, type ImageFormat } from '../contract/rules.js';

export type { ImageFormat };

export interface DecodedImage {
  format: ImageFormat;
  /** Upright size (after EXIF orientation), the one the geometry rule applies to. */
  width: number;
  height: number;
  bytes: Buffer;
}

export interface DecodeOptions {
  /** Pixel limit: anything declaring more is refused before it is decoded. */
  maxPixels: number;
  /** Bounds the memory of the decodes running at once (the API's); none for the CLI's single file. */
  gate?: DecodeGate;
}

/** Runs `work` once `bytes` of the decode budget are free (FIFO); see decode-gate.ts. */
export interface DecodeGate {
  run<T>(bytes: number, work: () => Promise<T>): Promise<T>;
}

/** Deflate never packs more than 1032 bytes into one (zlib's documented limit). */
const DEFLATE_MAX_RATIO = 1032;
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/**
 * Judges a PNG's chunk layout without decoding: every chunk whole up to IEND, and enough compressed data
 * for the declared size. A truncated file (the commonest way to make a server decode megapixels for
 * nothing) is refused here for the cost of reading its chunk headers.
 */
function pngStructureProblem(b: Buffer): string | null {
  const width = b.readUInt32BE(16);
  const height = b.readUInt32BE(20);
  const bitsPerPixel = (PNG_CHANNELS[b[25]] ?? 4) * b[24];
  let compressed = 0;
  for (let off = 8; off + 8 <= b.length; ) {
    const length = b.readUInt32BE(off);
    const type = b.toString('latin1', off + 4, off + 8);
    if (off + 12 + length > b.length) break;
    if (type === 'IDAT') compressed += length;
    if (type === 'IEND') {
      const raw = height * (1 + Math.ceil((width * bitsPerPixel) / 8));
      if (compressed * DEFLATE_MAX_RATIO < raw) {
        return `is a corrupt or truncated PNG file (its ${compressed} bytes of image data cannot hold ${width}×${height} pixels)`;
      }
      return null;
    }
    off += 12 + length;
  }
  return 'is a truncated PNG file (it ends before its IEND chunk)';
}

/** A JPEG must end its image data with an end-of-image marker (anything after it is let through). */
function jpegStructureProblem(b: Buffer): string | null {
  let off = 2;
  while (off + 4 <= b.length && b[off] === 0xff) {
    const marker = b[off + 1];
    if (marker === 0xff) {
      off++;
      continue;
    }
    if (marker === 0xda) {
      return b.lastIndexOf(JPEG_EOI) > off ? null : 'is a truncated JPEG file (its image data has no end marker)';
    }
    off += marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7) ? 2 : 2 + b.readUInt16BE(off + 2);
  }
  return null; // an odd layout: the full decode judges it
}
const JPEG_EOI = Buffer.from([0xff, 0xd9]);

/**
 * What a full decode of the image costs in memory, measured with sharp 0.34 at 40 MP: about 1.2× the
 * decoded pixels for baseline JPEG and plain PNG, 2× for interlaced PNG, 3× for progressive JPEG (libjpeg
 * keeps every coefficient).
 */
export function decodeMemoryBytes(meta: Pick<sharp.Metadata, 'format' | 'channels' | 'depth' | 'isProgressive'>, pixels: number): number {
  const bytesPerSample = meta.depth === 'ushort' || meta.depth === 'short' ? 2 : meta.depth === 'float' || meta.depth === 'uint' ? 4 : 1;
  const factor = !meta.isProgressive ? 1.25 : meta.format === 'jpeg' ? 3 : 2;
  return Math.ceil(pixels * (meta.channels ?? 4) * bytesPerSample * factor);
}

/** Validates an input image; throws a 1201 naming `image` and the rule it breaks. */
export async function decodeImage(bytes: Buffer, opts: DecodeOptions): Promise<DecodedImage> {
  return (await judge(bytes, opts, (decoder) => decoder.raw().toBuffer())).image;
}

/** `decodeImage` and `toRaster` in one decode, for a caller that computes at once (the CLI). */
export async function decodeRaster(bytes: Buffer, opts: DecodeOptions): Promise<RasterImage> {
  return (await judge(bytes, opts, (decoder) => rasterOf(decoder))).decoded;
}

/** The checks of decodeImage; `fullDecode` decodes every pixel, which judges the data (its result is kept). */
async function judge<T>(bytes: Buffer, opts: DecodeOptions, fullDecode: (decoder: sharp.Sharp) => Promise<T>): Promise<{ image: DecodedImage; decoded: T }> {
  const format = checkImageFile(bytes);
  let meta: sharp.Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    throw invalidParameter('image', `is not a readable ${format.toUpperCase()} file (corrupt header)`);
  }
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (!width || !height) throw invalidParameter('image', 'has no readable size');
  if (width * height > opts.maxPixels) {
    throw invalidParameter(
      'image',
      `${width}×${height} px exceeds the limit of ${opts.maxPixels.toLocaleString('en-US')} pixels`,
    );
  }
  checkImageSize(width, height);
  const problem = format === 'png' ? pngStructureProblem(bytes) : jpegStructureProblem(bytes);
  if (problem) throw invalidParameter('image', problem);
  // A full decode: headers can be intact while the data is truncated or corrupt. libjpeg only warns about
  // corrupt entropy-coded data (and decodes garbage), so its warnings are judged too; "extraneous bytes
  // before marker", which many cameras write, is harmless and let through.
  const decode = async (): Promise<T> => {
    const decoder = sharp(bytes, { failOn: 'truncated', limitInputPixels: opts.maxPixels });
    const warnings: string[] = [];
    decoder.on('warning', (w: string) => warnings.push(w));
    let decoded: T;
    try {
      decoded = await fullDecode(decoder);
    } catch {
      throw invalidParameter('image', `is a corrupt or truncated ${format.toUpperCase()} file`);
    }
    if (warnings.some((w) => /corrupt/i.test(w) && !/extraneous bytes/i.test(w))) {
      throw invalidParameter('image', `is a corrupt ${format.toUpperCase()} file (its image data does not decode cleanly)`);
    }
    return decoded;
  };
  const decoded = opts.gate ? await opts.gate.run(decodeMemoryBytes(meta, (meta.width ?? width) * (meta.height ?? height)), decode) : await decode();
  return { image: { format, width, height, bytes }, decoded };
}

/** Decodes to upright 8-bit RGB for the engine (alpha dropped, any colour space to sRGB). */
export function toRaster(bytes: Buffer, maxPixels = Number.MAX_SAFE_INTEGER): Promise<RasterImage> {
  return rasterOf(sharp(bytes, { limitInputPixels: maxPixels }));
}

async function rasterOf(decoder: sharp.Sharp): Promise<RasterImage> {
  const { data, info } = await decoder
    .autoOrient()
    .removeAlpha()
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoder returned ${info.channels} channels, expected 3`);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: 3 };
}
