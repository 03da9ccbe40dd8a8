/**
 * The full-resolution pass: every new pixel is voted from full-resolution source pixels through the
 * working level's correspondence field scaled up (never an upscaled small image), then a seam correction
 * blends the colour difference found along the original's border into the new region only.
 */
import type { Rect } from './pyramid.js';
import type { RasterImage } from './types.js';

/** The working level's result that the full-resolution pass reads (a LevelSolver's arrays). */
export interface WorkingField {
  width: number;
  height: number;
  /** Source centre per target centre, -1 elsewhere. */
  nnf: Int32Array;
  voteWeight: Float32Array;
  /** The working level's estimate, RGB floats. */
  rgb: Float32Array;
}

/** Plain data (typed arrays and numbers), so that rows can be computed on another thread from a copy. */
export interface FinalizeInput {
  field: WorkingField;
  /**
   * A working-level RGB correction, sampled bilinearly, or null: the low-frequency layer's (low-frequency.ts)
   * plus the chroma shift toward the border bands (chroma.ts).
   */
  lowFrequency: Float32Array | null;
  /** Working level = full resolution / scale (a power of two). */
  scale: number;
  raster: RasterImage;
  width: number;
  height: number;
  /** The original's rectangle in the output. */
  rect: Rect;
  /** Voting patch radius at full resolution. */
  radius: number;
  /** The original's lowest and highest value per channel (channelRange). */
  range: Uint8Array;
  /** Width of the seam-correction band in full-resolution pixels. */
  seamBand: number;
}

/**
 * Rows [y0, y1) of the output, streamed row by row: no full-resolution float buffers, so memory stays
 * near the output's size. Each row depends only on the input, so ranges can be computed apart (on
 * different threads) and put together: the same bytes as all rows at once.
 */
export function finalizeRows(p: FinalizeInput, y0: number, y1: number, checkCancelled: () => void = () => {}): Uint8Array {
  const { field, scale, raster, width, height, rect, radius } = p;
  const low = p.lowFrequency;
  const out = new Uint8Array(width * (y1 - y0) * 3);
  const rw = rect.x1 - rect.x0;
  const stride = raster.channels;
  const src = raster.data;
  const ww = field.width;
  const wh = field.height;
  const nnf = field.nnf;
  const weight = field.voteWeight;
  const wrgb = field.rgb;
  const acc = new Float64Array(4);

  // Weighted vote for one full-resolution pixel: each working cell within `radius` proposes the pixel at
  // (x, y) shifted by its own (scaled) offset, weighted by how many of the patch's pixels it covers.
  const gather = (x: number, y: number): void => {
    acc[0] = acc[1] = acc[2] = acc[3] = 0;
    const ylo = Math.max(0, y - radius);
    const yhi = Math.min(height - 1, y + radius);
    const xlo = Math.max(0, x - radius);
    const xhi = Math.min(width - 1, x + radius);
    const cy0 = Math.floor(ylo / scale);
    const cy1 = Math.min(wh - 1, Math.floor(yhi / scale));
    const cx0 = Math.floor(xlo / scale);
    const cx1 = Math.min(ww - 1, Math.floor(xhi / scale));
    for (let cy = cy0; cy <= cy1; cy++) {
      const oy = Math.min(yhi, cy * scale + scale - 1) - Math.max(ylo, cy * scale) + 1;
      if (oy <= 0) continue;
      for (let cx = cx0; cx <= cx1; cx++) {
        const c = cy * ww + cx;
        const s = nnf[c];
        if (s < 0) continue;
        const ox = Math.min(xhi, cx * scale + scale - 1) - Math.max(xlo, cx * scale) + 1;
        if (ox <= 0) continue;
        const scx = s % ww;
        const sx = x + (scx - cx) * scale;
        const sy = y + ((s - scx) / ww - cy) * scale;
        if (sx < rect.x0 || sx >= rect.x1 || sy < rect.y0 || sy >= rect.y1) continue;
        const wgt = ox * oy * weight[c];
        const i = ((sy - rect.y0) * rw + (sx - rect.x0)) * stride;
        acc[0] += src[i] * wgt;
        acc[1] += src[i + 1] * wgt;
        acc[2] += src[i + 2] * wgt;
        acc[3] += wgt;
      }
    }
  };

  // Seam correction: the difference between the original and what the synthesis predicts on the original's
  // border pixels, smoothed along each side.
  const band = p.seamBand;
  const sides = {
    top: rect.y0 > 0 ? borderDifference(rw, (i) => [rect.x0 + i, rect.y0]) : null,
    bottom: rect.y1 < height ? borderDifference(rw, (i) => [rect.x0 + i, rect.y1 - 1]) : null,
    left: rect.x0 > 0 ? borderDifference(rect.y1 - rect.y0, (i) => [rect.x0, rect.y0 + i]) : null,
    right: rect.x1 < width ? borderDifference(rect.y1 - rect.y0, (i) => [rect.x1 - 1, rect.y0 + i]) : null,
  };
  function borderDifference(n: number, at: (i: number) => [number, number]): Float64Array {
    const diff = new Float32Array(n * 3);
    const has = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const [x, y] = at(i);
      gather(x, y);
      if (acc[3] <= 0) continue;
      const o = ((y - rect.y0) * rw + (x - rect.x0)) * stride;
      diff[i * 3] = src[o] - acc[0] / acc[3];
      diff[i * 3 + 1] = src[o + 1] - acc[1] / acc[3];
      diff[i * 3 + 2] = src[o + 2] - acc[2] / acc[3];
      has[i] = 1;
    }
    return prefixSums(diff, has, n);
  }

  const corr = new Float64Array(3);
  let window = 0;
  let contributions = 0;
  // Adds the side's mean difference over [i - window, i + window] to corr (a named function, not a closure
  // per pixel).
  const addSide = (pre: Float64Array | null, i: number, n: number): void => {
    if (!pre) return;
    const a = Math.max(0, i - window);
    const b = Math.min(n, i + window + 1);
    const cnt = pre[b * 4 + 3] - pre[a * 4 + 3];
    if (cnt <= 0) return;
    corr[0] += (pre[b * 4] - pre[a * 4]) / cnt;
    corr[1] += (pre[b * 4 + 1] - pre[a * 4 + 1]) / cnt;
    corr[2] += (pre[b * 4 + 2] - pre[a * 4 + 2]) / cnt;
    contributions++;
  };
  const correction = (x: number, y: number): number => {
    // Nearest point of the original and its side(s). Like a membrane solution, the correction is exact next
    // to the border and smoother further out (the averaging window grows with the distance), and it fades
    // to 0 at `band` pixels.
    const dx = x < rect.x0 ? rect.x0 - x : x >= rect.x1 ? x - rect.x1 + 1 : 0;
    const dy = y < rect.y0 ? rect.y0 - y : y >= rect.y1 ? y - rect.y1 + 1 : 0;
    const d = Math.sqrt(dx * dx + dy * dy);
    if (d >= band) return 0;
    const f = (1 - (d - 1) / band) * (1 - (d - 1) / band);
    corr[0] = corr[1] = corr[2] = 0;
    contributions = 0;
    window = Math.floor(d) - 1;
    const ix = Math.min(Math.max(x, rect.x0), rect.x1 - 1) - rect.x0;
    const iy = Math.min(Math.max(y, rect.y0), rect.y1 - 1) - rect.y0;
    if (dy > 0) addSide(y < rect.y0 ? sides.top : sides.bottom, ix, rw);
    if (dx > 0) addSide(x < rect.x0 ? sides.left : sides.right, iy, rect.y1 - rect.y0);
    if (contributions === 0) return 0;
    const k = f / contributions;
    corr[0] *= k;
    corr[1] *= k;
    corr[2] *= k;
    return 1;
  };

  // New pixels stay within the original's range per channel (see channelRange).
  const [lo0, lo1, lo2, hi0, hi1, hi2] = p.range;

  for (let y = y0; y < y1; y++) {
    if (((y - y0) & 31) === 0) checkCancelled();
    const inRows = y >= rect.y0 && y < rect.y1;
    // The low-frequency layer's bilinear rows, the same for the whole row.
    const fy = Math.min(Math.max((y + 0.5) / scale - 0.5, 0), wh - 1);
    const ly0 = Math.floor(fy);
    const ly1 = ly0 + 1 < wh ? ly0 + 1 : ly0;
    const ty = fy - ly0;
    for (let x = 0; x < width; x++) {
      const o = ((y - y0) * width + x) * 3;
      if (inRows && x >= rect.x0 && x < rect.x1) {
        const i = ((y - rect.y0) * rw + (x - rect.x0)) * stride;
        out[o] = src[i];
        out[o + 1] = src[i + 1];
        out[o + 2] = src[i + 2];
        continue;
      }
      gather(x, y);
      let r: number, g: number, b: number;
      if (acc[3] > 0) {
        r = acc[0] / acc[3];
        g = acc[1] / acc[3];
        b = acc[2] / acc[3];
      } else {
        // No cell could vote (only at odd corners): the working level's estimate.
        const c = (Math.min(wh - 1, Math.floor(y / scale)) * ww + Math.min(ww - 1, Math.floor(x / scale))) * 3;
        r = wrgb[c];
        g = wrgb[c + 1];
        b = wrgb[c + 2];
      }
      if (correction(x, y)) {
        r += corr[0];
        g += corr[1];
        b += corr[2];
      }
      if (low) {
        // Bilinear between working cell centres.
        const fx = Math.min(Math.max((x + 0.5) / scale - 0.5, 0), ww - 1);
        const x0 = Math.floor(fx);
        const x1 = x0 + 1 < ww ? x0 + 1 : x0;
        const tx = fx - x0;
        const a = (ly0 * ww + x0) * 3, bq = (ly0 * ww + x1) * 3, c = (ly1 * ww + x0) * 3, d = (ly1 * ww + x1) * 3;
        const wa = (1 - tx) * (1 - ty), wb = tx * (1 - ty), wc = (1 - tx) * ty, wd = tx * ty;
        r += low[a] * wa + low[bq] * wb + low[c] * wc + low[d] * wd;
        g += low[a + 1] * wa + low[bq + 1] * wb + low[c + 1] * wc + low[d + 1] * wd;
        b += low[a + 2] * wa + low[bq + 2] * wb + low[c + 2] * wc + low[d + 2] * wd;
      }
      out[o] = r < lo0 ? lo0 : r > hi0 ? hi0 : Math.round(r);
      out[o + 1] = g < lo1 ? lo1 : g > hi1 ? hi1 : Math.round(g);
      out[o + 2] = b < lo2 ? lo2 : b > hi2 ? hi2 : Math.round(b);
    }
  }
  return out;
}

/**
 * Row boundaries that cut the output into `parts` ranges with about as many new pixels each (the
 * original's pixels are only copied): [0, b1, …, height].
 */
export function splitRows(p: Pick<FinalizeInput, 'width' | 'height' | 'rect'>, parts: number): number[] {
  const { width, height, rect } = p;
  const newInRow = (y: number): number => (y >= rect.y0 && y < rect.y1 ? width - (rect.x1 - rect.x0) : width);
  let total = 0;
  for (let y = 0; y < height; y++) total += newInRow(y);
  const bounds = [0];
  let sum = 0;
  for (let y = 0; y < height && bounds.length < parts; y++) {
    sum += newInRow(y);
    if (sum >= (total * bounds.length) / parts) bounds.push(y + 1);
  }
  while (bounds.length < parts) bounds.push(height);
  bounds.push(height);
  return bounds;
}

/** Prefix sums of a per-pixel RGB difference along a side and of where it is defined (4 per entry). */
function prefixSums(diff: Float32Array, has: Float32Array, n: number): Float64Array {
  const pre = new Float64Array((n + 1) * 4);
  for (let i = 0; i < n; i++) {
    pre[(i + 1) * 4] = pre[i * 4] + diff[i * 3];
    pre[(i + 1) * 4 + 1] = pre[i * 4 + 1] + diff[i * 3 + 1];
    pre[(i + 1) * 4 + 2] = pre[i * 4 + 2] + diff[i * 3 + 2];
    pre[(i + 1) * 4 + 3] = pre[i * 4 + 3] + has[i];
  }
  return pre;
}

/**
 * The original's [min R, min G, min B, max R, max G, max B]. New pixels are clamped to it: the corrections are
 * smooth offsets on copied pixels, and on a high-contrast texture they would otherwise push its darkest and
 * brightest parts past it. Seed-independent: computed once per job.
 */
export function channelRange(raster: RasterImage): Uint8Array {
  const { data, width, height, channels } = raster;
  const range = Uint8Array.of(255, 255, 255, 0, 0, 0);
  for (let i = 0; i < width * height * channels; i += channels) {
    for (let c = 0; c < 3; c++) {
      const v = data[i + c];
      if (v < range[c]) range[c] = v;
      if (v > range[c + 3]) range[c + 3] = v;
    }
  }
  return range;
}
