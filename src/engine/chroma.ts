/**
 * The new region's colours follow the original's border: patch synthesis copies from the whole original,
 * so the surroundings take on the colours of whatever the picture has most of (green leaves all around a
 * flower whose border is brown soil). Far from the original, the chroma of the new pixels (Cb and Cr,
 * brightness untouched) is moved along a monotone map that gives them the chroma distribution of the
 * original's bands next to the sides that grow. A map of distributions keeps the synthesis's detail and
 * its order of colours; it only shifts and stretches them.
 */
import type { Rect } from './pyramid.js';
import { verticalShare } from './low-frequency.js';

/** Tuning of the chroma transfer (part of SolverTuning). */
export interface ChromaTuning {
  /** Share of the transfer applied far from the original (0 = off, 1 = the border bands' distribution). */
  chromaTransfer: number;
  /** Depth of each side's band, as a fraction of how far that side grows (at least one patch width). */
  chromaBandDepth: number;
  /**
   * Largest shift per working cell and channel, in chroma levels: Cb and Cr are mapped apart, and on a strongly
   * coloured texture (yellow petals against a dark border) large shifts of the two would part ways and
   * tint single petals pink or green.
   */
  chromaLimit: number;
}

/** Chroma values span [-CHROMA_SPAN, CHROMA_SPAN] for RGB in [0, 255]. */
const CHROMA_SPAN = 128;
/** Grid step of the maps and histograms, in chroma levels. */
const STEP = 0.25;
const BINS = Math.round((2 * CHROMA_SPAN) / STEP);

/**
 * Per side of the original (top, bottom, left, right; null where it does not grow) two monotone maps, Cb
 * and Cr, on a grid of BINS + 1 chroma values from -CHROMA_SPAN, sampled linearly (mapChroma).
 */
export interface ChromaMap {
  sides: ({ cb: Float32Array; cr: Float32Array } | null)[];
}

export const chromaB = (r: number, g: number, b: number): number => -0.168736 * r - 0.331264 * g + 0.5 * b;
export const chromaR = (r: number, g: number, b: number): number => 0.5 * r - 0.418688 * g - 0.081312 * b;

export const TOP = 0, BOTTOM = 1, LEFT = 2, RIGHT = 3;

/**
 * The maps from the working level: `rgb` is the synthesis (RGB floats over the whole canvas, with its
 * low-frequency correction added where there is one), `known` the original's rectangle on it. Each side
 * maps what the synthesis made past it (corner cells shared by their two sides) onto the original's band
 * along it: a sky above and a lawn to the right are matched each to their own border. Null when nothing
 * grows.
 */
export function chromaMap(
  rgb: Float32Array,
  lowFrequency: Float32Array | null,
  width: number,
  height: number,
  known: Rect,
  bandDepth: number,
  minDepth: number,
): ChromaMap | null {
  const grows = [known.y0, height - known.y1, known.x0, width - known.x1];
  if (grows.every((g) => g <= 0)) return null;
  const kw = known.x1 - known.x0;
  const kh = known.y1 - known.y0;
  const from = grows.map(() => [new Float64Array(BINS), new Float64Array(BINS)]);
  const to = grows.map(() => [new Float64Array(BINS), new Float64Array(BINS)]);
  const add = (h: Float64Array[], o: number, w: number, low: Float32Array | null): void => {
    let r = rgb[o], g = rgb[o + 1], b = rgb[o + 2];
    if (low) {
      r += low[o];
      g += low[o + 1];
      b += low[o + 2];
    }
    h[0][bin(chromaB(r, g, b))] += w;
    h[1][bin(chromaR(r, g, b))] += w;
  };
  // What the synthesis made past each side.
  for (let y = 0; y < height; y++) {
    const dy = y < known.y0 ? known.y0 - y : y >= known.y1 ? y - known.y1 + 1 : 0;
    for (let x = 0; x < width; x++) {
      const dx = x < known.x0 ? known.x0 - x : x >= known.x1 ? x - known.x1 + 1 : 0;
      if (dx === 0 && dy === 0) continue;
      const o = (y * width + x) * 3;
      const wv = verticalShare(dx, dy);
      if (dy > 0) add(from[y < known.y0 ? TOP : BOTTOM], o, wv, lowFrequency);
      if (dx > 0) add(from[x < known.x0 ? LEFT : RIGHT], o, 1 - wv, lowFrequency);
    }
  }
  // What the border says: each growing side's band of the original.
  const sides: ChromaMap['sides'] = [];
  for (let side = 0; side < 4; side++) {
    const grow = grows[side];
    if (grow <= 0) {
      sides.push(null);
      continue;
    }
    const vertical = side === TOP || side === BOTTOM;
    const depth = Math.min(vertical ? kh : kw, Math.max(minDepth, Math.round(grow * bandDepth)));
    const length = vertical ? kw : kh;
    for (let j = 0; j < depth; j++) {
      for (let i = 0; i < length; i++) {
        const x = vertical ? known.x0 + i : side === LEFT ? known.x0 + j : known.x1 - 1 - j;
        const y = vertical ? (side === TOP ? known.y0 + j : known.y1 - 1 - j) : known.y0 + i;
        add(to[side], (y * width + x) * 3, 1, null);
      }
    }
    for (const h of [...from[side], ...to[side]]) smooth(h, SMOOTH_BINS);
    sides.push({ cb: transferMap(from[side][0], to[side][0]), cr: transferMap(from[side][1], to[side][1]) });
  }
  return { sides };
}

/**
 * Histograms are smoothed over ±SMOOTH_BINS bins (two box passes) before they are matched: a band a few cells
 * deep is a small sample, and its gaps and spikes would make the map jump between neighbouring chroma
 * values.
 */
const SMOOTH_BINS = 8;

function smooth(h: Float64Array, radius: number): void {
  const copy = new Float64Array(h.length);
  for (let pass = 0; pass < 2; pass++) {
    copy.set(h);
    let sum = 0;
    for (let i = -radius; i <= radius; i++) if (i >= 0 && i < h.length) sum += copy[i];
    for (let i = 0; i < h.length; i++) {
      h[i] = sum / (2 * radius + 1);
      if (i + radius + 1 < h.length) sum += copy[i + radius + 1];
      if (i - radius >= 0) sum -= copy[i - radius];
    }
  }
}

function bin(v: number): number {
  const i = Math.floor((v + CHROMA_SPAN) / STEP);
  return i < 0 ? 0 : i >= BINS ? BINS - 1 : i;
}

/**
 * The monotone map that sends the `from` histogram's distribution to the `to` histogram's (quantile to
 * quantile), sampled at the BINS + 1 bin edges; mass within a bin is spread evenly over it. Outside the
 * `from` range (full resolution has values the working level does not) the map shifts like its ends.
 */
function transferMap(from: Float64Array, to: Float64Array): Float32Array {
  const map = new Float32Array(BINS + 1);
  const [fa, fb, fromTotal] = extent(from);
  const [ta, tb, toTotal] = extent(to);
  if (fromTotal <= 0 || toTotal <= 0) {
    for (let i = 0; i <= BINS; i++) map[i] = i * STEP - CHROMA_SPAN;
    return map;
  }
  let below = 0; // `from` mass below edge i, as a share
  let j = ta; // the `to` bin holding that share
  let toBelow = 0; // `to` mass below bin j, as a share
  for (let i = 0; i <= BINS; i++) {
    if (i <= fa) map[i] = (ta + i - fa) * STEP - CHROMA_SPAN;
    else if (i > fb) map[i] = (tb + i - fb) * STEP - CHROMA_SPAN;
    else {
      while (j < tb && toBelow + to[j] / toTotal < below) toBelow += to[j++] / toTotal;
      const t = Math.min(1, Math.max(0, (below - toBelow) / (to[j] / toTotal)));
      map[i] = (j + t) * STEP - CHROMA_SPAN;
    }
    if (i < BINS) below += from[i] / fromTotal;
  }
  return map;
}

/** First and last non-empty bin and the total mass of a histogram. */
function extent(h: Float64Array): [number, number, number] {
  let first = -1;
  let last = -1;
  let total = 0;
  for (let i = 0; i < h.length; i++) {
    if (h[i] <= 0) continue;
    if (first < 0) first = i;
    last = i;
    total += h[i];
  }
  return [first, last, total];
}

/** The map's value at chroma v (linear between grid points). */
export function mapChroma(map: Float32Array, v: number): number {
  const f = (v + CHROMA_SPAN) / STEP;
  if (f <= 0) return map[0] + (v + CHROMA_SPAN);
  if (f >= BINS) return map[BINS] + (v - CHROMA_SPAN);
  const i = Math.floor(f);
  const t = f - i;
  return map[i] + (map[i + 1] - map[i]) * t;
}

/**
 * Adds the chroma shift to the working level's correction `low` (RGB per cell, added to the synthesis by the
 * full-resolution pass, sampled bilinearly): per new cell, the shift its side's maps give the chroma of
 * synthesis plus correction (a corner cell blends its two sides), at most `limit` levels per channel,
 * ramping from 0 at the border to `strength` at `ramp` cells. Computed on the smooth working level, the
 * shift is smooth too: mapped per full-resolution pixel, the maps' stretch would amplify the source's
 * fine chroma noise into a mottled tint.
 */
export function addChromaShift(
  rgb: Float32Array,
  low: Float32Array,
  width: number,
  height: number,
  known: Rect,
  map: ChromaMap,
  strength: number,
  limit: number,
  ramp: number,
): void {
  for (let y = 0; y < height; y++) {
    const dy = y < known.y0 ? known.y0 - y : y >= known.y1 ? y - known.y1 + 1 : 0;
    const vertical = dy > 0 ? map.sides[y < known.y0 ? TOP : BOTTOM] : null;
    for (let x = 0; x < width; x++) {
      const dx = x < known.x0 ? known.x0 - x : x >= known.x1 ? x - known.x1 + 1 : 0;
      if (dx === 0 && dy === 0) continue;
      const horizontal = dx > 0 ? map.sides[x < known.x0 ? LEFT : RIGHT] : null;
      const o = (y * width + x) * 3;
      const r = rgb[o] + low[o];
      const g = rgb[o + 1] + low[o + 1];
      const b = rgb[o + 2] + low[o + 2];
      const cb = chromaB(r, g, b);
      const cr = chromaR(r, g, b);
      const wv = verticalShare(dx, dy);
      let db = 0;
      let dr = 0;
      if (vertical) {
        db += wv * (mapChroma(vertical.cb, cb) - cb);
        dr += wv * (mapChroma(vertical.cr, cr) - cr);
      }
      if (horizontal) {
        db += (1 - wv) * (mapChroma(horizontal.cb, cb) - cb);
        dr += (1 - wv) * (mapChroma(horizontal.cr, cr) - cr);
      }
      const f = strength * Math.min(1, Math.sqrt(dx * dx + dy * dy) / ramp);
      db = f * (db < -limit ? -limit : db > limit ? limit : db);
      dr = f * (dr < -limit ? -limit : dr > limit ? limit : dr);
      // Back to RGB with the luma unchanged.
      low[o] += 1.402 * dr;
      low[o + 1] -= 0.344136 * db + 0.714136 * dr;
      low[o + 2] += 1.772 * db;
    }
  }
}
