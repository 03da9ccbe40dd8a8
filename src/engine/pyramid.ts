/**
 * The image pyramid the engine optimises on. The known region is always an axis-aligned rectangle (the
 * original inside the expanded canvas), so every level describes it by four numbers instead of a mask.
 */
import type { RasterImage } from './types.js';

export interface Rect {
  x0: number;
  y0: number;
  /** Exclusive. */
  x1: number;
  y1: number;
}

export interface PyramidLevel {
  /** Canvas size at this level. */
  width: number;
  height: number;
  /** The known (original) rectangle at this level: pixels whose whole footprint lies inside the original. */
  known: Rect;
  /** RGB float pixels of the known rectangle only (rect-local, row-major). Empty at level 0 (read the raster). */
  knownRgb: Float32Array;
}

/** Level k+1 of a canvas and its known rectangle, halving with ceil so that every pixel has 1–4 children. */
export function halveLevel(prev: PyramidLevel): PyramidLevel {
  const width = Math.ceil(prev.width / 2);
  const height = Math.ceil(prev.height / 2);
  const p = prev.known;
  const known: Rect = {
    x0: Math.ceil(p.x0 / 2),
    y0: Math.ceil(p.y0 / 2),
    x1: p.x1 === prev.width ? width : Math.floor(p.x1 / 2),
    y1: p.y1 === prev.height ? height : Math.floor(p.y1 / 2),
  };
  return { width, height, known, knownRgb: new Float32Array(0) };
}

/** Fills level.knownRgb by averaging the children of each known pixel in the finer level. */
export function downsampleKnown(level: PyramidLevel, finer: PyramidLevel, raster: RasterImage | null): void {
  const k = level.known;
  const f = finer.known;
  const kw = k.x1 - k.x0;
  const kh = k.y1 - k.y0;
  const out = new Float32Array(Math.max(0, kw * kh * 3));
  const fw = f.x1 - f.x0;
  // Level 0 reads the 8-bit raster (3 or 4 channels); coarser levels read the finer level's floats.
  const src: ArrayLike<number> = raster ? raster.data : finer.knownRgb;
  const stride = raster ? raster.channels : 3;
  for (let y = 0; y < kh; y++) {
    const fy0 = 2 * (y + k.y0) - f.y0;
    const fy1 = Math.min(fy0 + 1, f.y1 - f.y0 - 1);
    for (let x = 0; x < kw; x++) {
      const fx0 = 2 * (x + k.x0) - f.x0;
      const fx1 = Math.min(fx0 + 1, fw - 1);
      const a = (fy0 * fw + fx0) * stride;
      const b = (fy0 * fw + fx1) * stride;
      const c = (fy1 * fw + fx0) * stride;
      const d = (fy1 * fw + fx1) * stride;
      const o = (y * kw + x) * 3;
      out[o] = (src[a] + src[b] + src[c] + src[d]) * 0.25;
      out[o + 1] = (src[a + 1] + src[b + 1] + src[c + 1] + src[d + 1]) * 0.25;
      out[o + 2] = (src[a + 2] + src[b + 2] + src[c + 2] + src[d + 2]) * 0.25;
    }
  }
  level.knownRgb = out;
}

/**
 * Smooth low-frequency fill of everything outside the known rectangle (pull-push): average known colour
 * up a pyramid of weights, then push back down, blending each coarser level in where weight is missing.
 * `rgb` is the full canvas (known pixels already set); it is filled in place.
 */
export function pullPushFill(rgb: Float32Array, width: number, height: number, known: Rect): void {
  const colours: Float32Array[] = [];
  const weights: Float32Array[] = [];
  const sizes: [number, number][] = [];
  let w = width;
  let h = height;
  let c = new Float32Array(rgb);
  let wt = new Float32Array(w * h);
  for (let y = known.y0; y < known.y1; y++) wt.fill(1, y * w + known.x0, y * w + known.x1);
  colours.push(c);
  weights.push(wt);
  sizes.push([w, h]);
  while (w > 1 || h > 1) {
    const nw = Math.ceil(w / 2);
    const nh = Math.ceil(h / 2);
    const nc = new Float32Array(nw * nh * 3);
    const nwt = new Float32Array(nw * nh);
    for (let y = 0; y < nh; y++) {
      for (let x = 0; x < nw; x++) {
        let s0 = 0, s1 = 0, s2 = 0, sw = 0;
        for (let dy = 0; dy < 2; dy++) {
          const yy = 2 * y + dy;
          if (yy >= h) continue;
          for (let dx = 0; dx < 2; dx++) {
            const xx = 2 * x + dx;
            if (xx >= w) continue;
            const i = yy * w + xx;
            const q = wt[i];
            s0 += c[i * 3] * q;
            s1 += c[i * 3 + 1] * q;
            s2 += c[i * 3 + 2] * q;
            sw += q;
          }
        }
        const j = y * nw + x;
        if (sw > 0) {
          nc[j * 3] = s0 / sw;
          nc[j * 3 + 1] = s1 / sw;
          nc[j * 3 + 2] = s2 / sw;
        }
        nwt[j] = Math.min(1, sw);
      }
    }
    c = nc;
    wt = nwt;
    w = nw;
    h = nh;
    colours.push(c);
    weights.push(wt);
    sizes.push([w, h]);
  }
  // Push: bilinear upsampling of the coarser (already complete) level fills what the finer one lacks.
  for (let l = colours.length - 2; l >= 0; l--) {
    const [fw, fh] = sizes[l];
    const [cw, ch] = sizes[l + 1];
    const fc = colours[l];
    const fwt = weights[l];
    const cc = colours[l + 1];
    for (let y = 0; y < fh; y++) {
      const cyf = Math.min(Math.max((y + 0.5) / 2 - 0.5, 0), ch - 1);
      const cy0 = Math.floor(cyf);
      const cy1 = Math.min(cy0 + 1, ch - 1);
      const ty = cyf - cy0;
      for (let x = 0; x < fw; x++) {
        const i = y * fw + x;
        const q = fwt[i];
        if (q >= 1) continue;
        const cxf = Math.min(Math.max((x + 0.5) / 2 - 0.5, 0), cw - 1);
        const cx0 = Math.floor(cxf);
        const cx1 = Math.min(cx0 + 1, cw - 1);
        const tx = cxf - cx0;
        for (let ch3 = 0; ch3 < 3; ch3++) {
          const a = cc[(cy0 * cw + cx0) * 3 + ch3];
          const b = cc[(cy0 * cw + cx1) * 3 + ch3];
          const d = cc[(cy1 * cw + cx0) * 3 + ch3];
          const e = cc[(cy1 * cw + cx1) * 3 + ch3];
          const v = (a * (1 - tx) + b * tx) * (1 - ty) + (d * (1 - tx) + e * tx) * ty;
          fc[i * 3 + ch3] = fc[i * 3 + ch3] * q + v * (1 - q);
        }
        fwt[i] = 1;
      }
    }
  }
  const base = colours[0];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (x >= known.x0 && x < known.x1 && y >= known.y0 && y < known.y1) continue;
      const i = (y * width + x) * 3;
      rgb[i] = base[i];
      rgb[i + 1] = base[i + 1];
      rgb[i + 2] = base[i + 2];
    }
  }
}

/** Euclidean distance from (x, y) to a rectangle (0 inside). */
export function distanceToRect(x: number, y: number, r: Rect): number {
  const dx = x < r.x0 ? r.x0 - x : x >= r.x1 ? x - r.x1 + 1 : 0;
  const dy = y < r.y0 ? r.y0 - y : y >= r.y1 ? y - r.y1 + 1 : 0;
  return Math.sqrt(dx * dx + dy * dy);
}
