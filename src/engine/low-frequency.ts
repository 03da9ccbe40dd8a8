/**
 * The low-frequency layer under the patch detail: far from the original, colour and brightness should drift
 * the way the original's border does, not jump to whatever texture the image has most of. A smooth border
 * extension (a cheap membrane) gives that drift; the correction replaces the synthesis's own low frequencies
 * by it, more the further a pixel lies from the original, and leaves the detail above them alone.
 */
import type { Rect } from './pyramid.js';

/**
 * Border extension of the known rectangle over the whole canvas (RGB floats, known cells copied): each new
 * cell takes the mean of the original's nearest border band (the first `band` rows or columns) over a
 * window that widens with the distance (a 45° cone), like a membrane that smooths as it leaves the border.
 * Corner regions blend the two sides by how far the cell lies past each.
 */
export function borderExtension(width: number, height: number, known: Rect, knownRgb: Float32Array, band: number): Float32Array {
  const kw = known.x1 - known.x0;
  const kh = known.y1 - known.y0;
  const bx = Math.max(1, Math.min(band, kw));
  const by = Math.max(1, Math.min(band, kh));
  // Prefix sums along each side of the band's mean colour (3 per entry, n + 1 entries).
  const side = (n: number, depth: number, at: (i: number, j: number) => number): Float64Array => {
    const pre = new Float64Array((n + 1) * 3);
    for (let i = 0; i < n; i++) {
      let r = 0, g = 0, b = 0;
      for (let j = 0; j < depth; j++) {
        const o = at(i, j) * 3;
        r += knownRgb[o];
        g += knownRgb[o + 1];
        b += knownRgb[o + 2];
      }
      pre[(i + 1) * 3] = pre[i * 3] + r / depth;
      pre[(i + 1) * 3 + 1] = pre[i * 3 + 1] + g / depth;
      pre[(i + 1) * 3 + 2] = pre[i * 3 + 2] + b / depth;
    }
    return pre;
  };
  const top = side(kw, by, (i, j) => j * kw + i);
  const bottom = side(kw, by, (i, j) => (kh - 1 - j) * kw + i);
  const left = side(kh, bx, (i, j) => i * kw + j);
  const right = side(kh, bx, (i, j) => i * kw + kw - 1 - j);
  const out = new Float32Array(width * height * 3);
  for (let y = known.y0; y < known.y1; y++) {
    const from = (y - known.y0) * kw * 3;
    out.set(knownRgb.subarray(from, from + kw * 3), (y * width + known.x0) * 3);
  }
  for (let y = 0; y < height; y++) {
    const dy = y < known.y0 ? known.y0 - y : y >= known.y1 ? y - known.y1 + 1 : 0;
    const iy = Math.min(Math.max(y, known.y0), known.y1 - 1) - known.y0;
    const vertical = y < known.y0 ? top : bottom;
    for (let x = 0; x < width; x++) {
      const dx = x < known.x0 ? known.x0 - x : x >= known.x1 ? x - known.x1 + 1 : 0;
      if (dx === 0 && dy === 0) continue;
      const ix = Math.min(Math.max(x, known.x0), known.x1 - 1) - known.x0;
      const o = (y * width + x) * 3;
      const wv = verticalShare(dx, dy);
      if (dy > 0) addWindowMean(out, o, vertical, ix, dy, kw, wv);
      if (dx > 0) addWindowMean(out, o, x < known.x0 ? left : right, iy, dx, kh, 1 - wv);
    }
  }
  return out;
}

/**
 * For a new cell (dx, dy) ≥ 0 past the original's sides, the share of its vertical side (top or bottom)
 * against its horizontal one: corner regions blend the two by how far the cell lies past each.
 */
export function verticalShare(dx: number, dy: number): number {
  return dy / (dx + dy);
}

/** out[o..o+2] += weight × the mean of pre's entries over [i − half, i + half] (clamped to [0, n)). */
function addWindowMean(out: Float32Array, o: number, pre: Float64Array, i: number, half: number, n: number, weight: number): void {
  const a = Math.max(0, i - half);
  const b = Math.min(n, i + half + 1);
  const k = weight / (b - a);
  out[o] += (pre[b * 3] - pre[a * 3]) * k;
  out[o + 1] += (pre[b * 3 + 1] - pre[a * 3 + 1]) * k;
  out[o + 2] += (pre[b * 3 + 2] - pre[a * 3 + 2]) * k;
}

/** Separable box blur of an RGB canvas, `passes` times (2 ≈ a triangle, 3 ≈ a Gaussian); `scratch` ≥ rgb.length. */
export function boxBlur(rgb: Float32Array, width: number, height: number, radius: number, passes: number, scratch: Float32Array): void {
  for (let p = 0; p < passes; p++) {
    blurLine(rgb, scratch, width, height, radius, 3, width * 3);
    blurLine(scratch, rgb, height, width, radius, width * 3, 3);
  }
}

/**
 * Running-sum box blur of `lines` lines of `n` pixels each (pixel step `step`, line step `lineStep`, in floats),
 * edges clamped, from src into dst.
 */
function blurLine(src: Float32Array, dst: Float32Array, n: number, lines: number, radius: number, step: number, lineStep: number): void {
  const inv = 1 / (2 * radius + 1);
  for (let l = 0; l < lines; l++) {
    const base = l * lineStep;
    for (let c = 0; c < 3; c++) {
      let sum = 0;
      for (let k = -radius; k <= radius; k++) sum += src[base + Math.min(Math.max(k, 0), n - 1) * step + c];
      for (let i = 0; i < n; i++) {
        dst[base + i * step + c] = sum * inv;
        sum += src[base + Math.min(i + radius + 1, n - 1) * step + c] - src[base + Math.max(i - radius, 0) * step + c];
      }
    }
  }
}

export interface LowFrequencyTuning {
  /** Share of the synthesis's low frequencies replaced by the border extension, far from the original (0 = off). */
  lowFrequencyWeight: number;
  /** Blur radius that separates low from high frequencies, as a fraction of the canvas's short side. */
  lowFrequencyRadius: number;
  /** Distance (in patch widths) over which the weight ramps up from 0 at the border. */
  lowFrequencyRamp: number;
  /**
   * Share of the correction's colour (what differs from its grey part) that is applied: the membrane's wide
   * means mix the border's colours toward grey, and all of it would wash saturated texture out.
   */
  lowFrequencyChroma: number;
  /**
   * Largest correction per channel (0–255 scale): where a copied object stands out from what the membrane
   * says (a bright petal on a dark ground), the full difference would ring around it as a halo.
   */
  lowFrequencyLimit: number;
}

/**
 * The correction to add to the synthesis `rgb` (RGB floats, 0 on the known rectangle):
 * weight(d) × (membrane − blur(rgb)), weight rising linearly from 0 at the border to its full value at `ramp` cells.
 */
export function lowFrequencyCorrection(
  rgb: Float32Array,
  membrane: Float32Array,
  width: number,
  height: number,
  known: Rect,
  tuning: Readonly<LowFrequencyTuning>,
  ramp: number,
): Float32Array {
  const radius = Math.max(1, Math.round(Math.min(width, height) * tuning.lowFrequencyRadius));
  const low = new Float32Array(rgb);
  const corr = new Float32Array(rgb.length);
  boxBlur(low, width, height, radius, 2, corr); // corr is the blur's scratch first
  corr.fill(0);
  const chroma = tuning.lowFrequencyChroma;
  const limit = tuning.lowFrequencyLimit;
  for (let y = 0; y < height; y++) {
    const dy = y < known.y0 ? known.y0 - y : y >= known.y1 ? y - known.y1 + 1 : 0;
    for (let x = 0; x < width; x++) {
      const dx = x < known.x0 ? known.x0 - x : x >= known.x1 ? x - known.x1 + 1 : 0;
      if (dx === 0 && dy === 0) continue;
      const w = tuning.lowFrequencyWeight * Math.min(1, Math.sqrt(dx * dx + dy * dy) / ramp);
      const o = (y * width + x) * 3;
      const dr = membrane[o] - low[o];
      const dg = membrane[o + 1] - low[o + 1];
      const db = membrane[o + 2] - low[o + 2];
      const grey = (1 - chroma) * (0.299 * dr + 0.587 * dg + 0.114 * db);
      const cr = w * (grey + chroma * dr);
      const cg = w * (grey + chroma * dg);
      const cb = w * (grey + chroma * db);
      corr[o] = cr < -limit ? -limit : cr > limit ? limit : cr;
      corr[o + 1] = cg < -limit ? -limit : cg > limit ? limit : cg;
      corr[o + 2] = cb < -limit ? -limit : cb > limit ? limit : cb;
    }
  }
  return corr;
}
