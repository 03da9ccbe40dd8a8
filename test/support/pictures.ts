/** Small generated pictures with structure (gradients, stripes, blobs, noise), made fresh by each test. */
import sharp from 'sharp';

export function scene(width: number, height: number, seed = 1): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  let s = seed >>> 0 || 1;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const stripe = Math.sin((x + y * 0.3) / 9) * 30;
      data[i] = clamp(80 + (120 * y) / height + stripe + rand() * 20);
      data[i + 1] = clamp(140 - (60 * x) / width + rand() * 20);
      data[i + 2] = clamp(60 + 90 * Math.cos(x / 40) * Math.sin(y / 30) + rand() * 20);
    }
  }
  return data;
}

export async function scenePng(width: number, height: number, seed = 1): Promise<Buffer> {
  return sharp(scene(width, height, seed), { raw: { width, height, channels: 3 } }).png().toBuffer();
}

export async function sceneJpeg(width: number, height: number, seed = 1): Promise<Buffer> {
  return sharp(scene(width, height, seed), { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}
