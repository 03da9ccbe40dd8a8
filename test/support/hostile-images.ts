/**
 * Hostile uploads: small files that declare a large picture (issue 10). A truncated PNG is refused from
 * its chunk layout; a "crafted" one has whole chunks, valid checksums and enough data for its size, but
 * its compressed stream is broken near the end, so only a full decode finds out.
 */
import zlib from 'node:zlib';
import sharp from 'sharp';

export function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typed = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(typed));
  return Buffer.concat([length, typed, crc]);
}

/** A valid flat RGB PNG of side×side px: 6300² (39.7 MP, under the 40 MP cap) is ~128 KB. */
export async function flatPng(side: number): Promise<Buffer> {
  return sharp({ create: { width: side, height: side, channels: 3, background: { r: 40, g: 120, b: 200 } } })
    .png({ compressionLevel: 9 })
    .toBuffer();
}

/** The first 90% of a valid PNG. */
export function truncatedPng(png: Buffer): Buffer {
  return png.subarray(0, Math.floor(png.length * 0.9));
}

/** The same PNG with its compressed image data scribbled over near the end, checksums recomputed. */
export function craftedPng(png: Buffer): Buffer {
  const chunks: { type: string; data: Buffer }[] = [];
  for (let off = 8; off < png.length; ) {
    const length = png.readUInt32BE(off);
    chunks.push({ type: png.toString('latin1', off + 4, off + 8), data: png.subarray(off + 8, off + 8 + length) });
    off += 12 + length;
  }
  const idat = Buffer.from(Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data)));
  for (let i = idat.length - 600; i < idat.length - 100; i++) idat[i] = (i * 131) & 0xff;
  const head = chunks.filter((c) => c.type === 'IHDR');
  return Buffer.concat([png.subarray(0, 8), ...head.map((c) => pngChunk(c.type, c.data)), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}
