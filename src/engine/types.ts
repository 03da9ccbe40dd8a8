import type { ExpansionRatios } from './geometry.js';

/** Interleaved 8-bit pixels, row-major, no padding. */
export interface RasterImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  /** 3 = RGB, 4 = RGBA (alpha is ignored: the engine works on colour). */
  channels: 3 | 4;
}

/** An expanded RGB image and where the original sits in it. */
export interface ExpandedImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3;
  x: number;
  y: number;
}

export type QualityPreset = 'fast' | 'balanced' | 'best';

export interface EngineProgress {
  /** Steps done so far and in all; `done` only grows and reaches `total` at the end. */
  done: number;
  total: number;
  /** A short name for what is being computed, e.g. "level 3/6". */
  stage: string;
}

export interface ExpandOptions {
  /** Same seed, same bytes out. Default 0. */
  seed?: number;
  quality?: QualityPreset;
  onProgress?: (p: EngineProgress) => void;
  /**
   * Checked between steps; when it reads true the engine throws an EngineCancelledError.
   * An AbortSignal fits; inside a worker thread, pass a view on shared memory the parent can flip.
   */
  signal?: { readonly aborted: boolean };
}

export class EngineCancelledError extends Error {
  constructor() {
    super('expansion cancelled');
    this.name = 'EngineCancelledError';
  }
}

export type { ExpansionRatios };
