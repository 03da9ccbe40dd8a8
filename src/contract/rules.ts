/**
 * The contract's rules for an expansion request (docs/kling-api.md, "Create"), shared by the HTTP API,
 * the CLI and the page so that all refuse the same input with the same message. Each failure is a 1201
 * whose message names the field and the rule.
 */
import { invalidParameter } from './errors.js';
import type { ExpansionRatios } from './geometry.js';

export type { ExpansionRatios };

export const RATIO_FIELDS = {
  up: 'up_expansion_ratio',
  down: 'down_expansion_ratio',
  left: 'left_expansion_ratio',
  right: 'right_expansion_ratio',
} as const;

export const LIMITS = {
  maxRatio: 2,
  maxArea: 3,
  minSide: 300,
  /** Aspect ratio (width / height) between 1:2.5 and 2.5:1. */
  minAspect: 1 / 2.5,
  maxAspect: 2.5,
  maxImageBytes: 10 * 1024 * 1024,
  maxPromptChars: 2500,
  maxN: 9,
  /** Outpaint's own `seed` (an int32 ≥ 0, as the engine takes it); result i of a task uses seed + i. */
  maxSeed: 2_147_483_647,
} as const;

/** Accepts a missing ratio as 0; everything else must be a finite number in [0, 2]. */
export function checkRatios(input: Partial<Record<keyof ExpansionRatios, unknown>>): ExpansionRatios {
  const out = { up: 0, down: 0, left: 0, right: 0 };
  for (const side of ['up', 'down', 'left', 'right'] as const) {
    const v = input[side];
    const field = RATIO_FIELDS[side];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidParameter(field, 'must be a number');
    if (v < 0 || v > LIMITS.maxRatio) throw invalidParameter(field, `${v} is outside [0, ${LIMITS.maxRatio}]`);
    out[side] = v;
  }
  const area = (1 + out.left + out.right) * (1 + out.up + out.down);
  // A hair of tolerance so that ratios like 0.5/1.0 that multiply to exactly 3 in decimal pass in binary.
  if (area > LIMITS.maxArea + 1e-9) {
    const { up, down, left, right } = RATIO_FIELDS;
    throw invalidParameter(
      'expansion ratios',
      `(1 + ${left} + ${right}) × (1 + ${up} + ${down}) = (1 + ${out.left} + ${out.right}) × (1 + ${out.up} + ${out.down}) ` +
        `= ${round3(area)} exceeds the maximum of ${LIMITS.maxArea}`,
    );
  }
  if (out.up === 0 && out.down === 0 && out.left === 0 && out.right === 0) {
    throw invalidParameter(
      'expansion ratios',
      `at least one of up, down, left and right must be above 0 (${Object.values(RATIO_FIELDS).join(', ')}; a missing one counts as 0)`,
    );
  }
  return out;
}

export function checkN(v: unknown): number {
  if (v === undefined || v === null) return 1;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw invalidParameter('n', 'must be an integer');
  if (v < 1 || v > LIMITS.maxN) throw invalidParameter('n', `${v} is outside [1, ${LIMITS.maxN}]`);
  return v;
}

/** The seed a task asked for; null when none (the task's id then picks one). */
export function checkSeed(v: unknown): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw invalidParameter('seed', 'must be an integer');
  if (v < 0 || v > LIMITS.maxSeed) throw invalidParameter('seed', `${v} is outside [0, ${LIMITS.maxSeed}]`);
  return v;
}

export function checkPrompt(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw invalidParameter('prompt', 'must be a string');
  const chars = [...v].length;
  if (chars > LIMITS.maxPromptChars) {
    throw invalidParameter('prompt', `${chars} characters exceed the maximum of ${LIMITS.maxPromptChars}`);
  }
  return v;
}

export type ImageFormat = 'jpeg' | 'png';

/** The format of JPEG and PNG bytes by their magic numbers; null for anything else. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  const b = bytes;
  if (b.length >= 8 && b[0] === 0x89 && ascii(b, 1, 4) === 'PNG' && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  return null;
}

// Formats people send by mistake, named so that the message says what was received.
const OTHER_FORMATS: { name: string; test: (b: Uint8Array) => boolean }[] = [
  { name: 'GIF', test: (b) => ascii(b, 0, 4) === 'GIF8' },
  { name: 'WebP', test: (b) => ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP' },
  { name: 'BMP', test: (b) => ascii(b, 0, 2) === 'BM' },
  { name: 'TIFF', test: (b) => ['II*\0', 'MM\0*'].includes(ascii(b, 0, 4)) },
  { name: 'HEIF/AVIF', test: (b) => ascii(b, 4, 8) === 'ftyp' },
  { name: 'SVG', test: (b) => /^\s*(<\?xml|<svg|<!DOCTYPE svg)/i.test(new TextDecoder().decode(b.subarray(0, 256))) },
  { name: 'PDF', test: (b) => ascii(b, 0, 4) === '%PDF' },
];

/** Rules on the file itself, before any decoding: not empty, at most 10 MB, JPEG or PNG by content. */
export function checkImageFile(bytes: Uint8Array): ImageFormat {
  if (bytes.length === 0) throw invalidParameter('image', 'is empty');
  if (bytes.length > LIMITS.maxImageBytes) {
    throw invalidParameter('image', `${megabytes(bytes.length)} exceeds the maximum of ${megabytes(LIMITS.maxImageBytes)}`);
  }
  const format = sniffFormat(bytes);
  if (!format) {
    const known = OTHER_FORMATS.find((f) => f.test(bytes));
    throw invalidParameter('image', known ? `${known.name} is not supported; send JPEG or PNG` : 'is not a JPEG or PNG image');
  }
  return format;
}

/**
 * A size for messages: megabytes (MiB, as the limits are set) rounded up to hundredths and without
 * trailing zeros, so that "16 MB" reads as set and a file one byte over 10 MB reads "10.01 MB", never
 * "10 MB exceeds the maximum of 10 MB".
 */
export function megabytes(bytes: number): string {
  const hundredths = Math.ceil((bytes / (1024 * 1024)) * 100 - 1e-9);
  return `${hundredths / 100} MB`;
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, end));
}

/** Size rules on a decoded image (after EXIF orientation). */
export function checkImageSize(width: number, height: number): void {
  if (width < LIMITS.minSide) {
    throw invalidParameter('image', `width ${width} px is below the minimum of ${LIMITS.minSide} px`);
  }
  if (height < LIMITS.minSide) {
    throw invalidParameter('image', `height ${height} px is below the minimum of ${LIMITS.minSide} px`);
  }
  const aspect = width / height;
  if (aspect < LIMITS.minAspect - 1e-9 || aspect > LIMITS.maxAspect + 1e-9) {
    throw invalidParameter(
      'image',
      `aspect ratio ${width}:${height} (${round3(aspect)}) is outside 1:2.5 to 2.5:1`,
    );
  }
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
