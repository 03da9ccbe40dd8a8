import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expand } from '../src/engine/index.js';
import { borderExtension, boxBlur } from '../src/engine/low-frequency.js';
import { chromaB, chromaMap, chromaR, mapChroma } from '../src/engine/chroma.js';
import type { RasterImage } from '../src/engine/types.js';

// The layout far from the original: the low-frequency layer (border extension) and the layout prior.

const near = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('the border extension continues each side outward and blends the sides in the corners', () => {
  // A 4×4 known square at (4, 4) in a 12×12 canvas: top row red, bottom row blue, the rest grey.
  const known = { x0: 4, y0: 4, x1: 8, y1: 8 };
  const rgb = new Float32Array(4 * 4 * 3);
  for (let y = 0; y < 4; y++) {
    for (let x = 0; x < 4; x++) rgb.set(y === 0 ? [255, 0, 0] : y === 3 ? [0, 0, 255] : [128, 128, 128], (y * 4 + x) * 3);
  }
  const out = borderExtension(12, 12, known, rgb, 1);
  const at = (x: number, y: number) => Array.from(out.subarray((y * 12 + x) * 3, (y * 12 + x) * 3 + 3));
  assert.deepEqual(at(5, 5), [128, 128, 128], 'known cells are copied');
  assert.deepEqual(at(5, 0), [255, 0, 0], 'straight above: the top band');
  assert.deepEqual(at(6, 11), [0, 0, 255], 'straight below: the bottom band');
  // Two cells left of the square's second row: the left band (first column: red, grey, grey, blue)
  // averaged over rows 1 ± 2, i.e. all four.
  const oneLeft = at(3, 5);
  [(255 + 128 + 128) / 3, 256 / 3, 256 / 3].forEach((v, c) => near(oneLeft[c], v, 0.01, `one cell left (rows 0–2), channel ${c}`));
  const left = at(2, 5);
  near(left[0], (255 + 128 + 128 + 0) / 4, 0.01, 'two cells left, red');
  near(left[2], (0 + 128 + 128 + 255) / 4, 0.01, 'two cells left, blue');
  // Diagonally above-left at equal distances: half the top band (red near the corner), half the left band.
  const corner = at(2, 2);
  near(corner[0], 0.5 * 255 + 0.5 * ((255 + 128 + 128) / 3), 0.01, 'corner, red');
  near(corner[2], 0.5 * 0 + 0.5 * ((0 + 128 + 128) / 3), 0.01, 'corner, blue');
});

test('the box blur keeps a constant canvas constant and spreads a point evenly', () => {
  const w = 9;
  const h = 7;
  const flat = new Float32Array(w * h * 3).fill(77);
  boxBlur(flat, w, h, 2, 2, new Float32Array(flat.length));
  for (const v of flat) near(v, 77, 1e-4, 'flat');
  const point = new Float32Array(w * h * 3);
  point[(3 * w + 4) * 3] = 25 * 25;
  boxBlur(point, w, h, 2, 1, new Float32Array(point.length));
  // One pass of radius 2 spreads the point over its 5×5 neighbourhood, 25 each.
  near(point[(1 * w + 2) * 3], 25, 1e-3, 'inside the box');
  near(point[(0 * w + 4) * 3], 0, 1e-3, 'outside the box');
});

/** 120×72: a band of smooth sky, `skyRows` deep, on top of textured brown ground (the rest of the picture). */
function skyOverGround(skyRows: number): RasterImage {
  const w = 120;
  const h = 72;
  const data = new Uint8Array(w * h * 3);
  let s = 99;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      const n = ((s >>> 24) - 128) * 0.5;
      const i = (y * w + x) * 3;
      const sky = y < skyRows;
      data[i] = sky ? 110 + y : 120 + n;
      data[i + 1] = sky ? 160 + y : 80 + n;
      data[i + 2] = sky ? 235 : 40 + n * 0.5;
    }
  }
  return { data, width: w, height: h, channels: 3 };
}

/**
 * Mean luma and Cb of the far half of skyOverGround's new region grown up by 1 (the top 36 rows of 144).
 * By default the sky is a strip of 4 rows, too thin to hold a patch: the synthesis fills the far region
 * with ground, which the low-frequency layer and the chroma maps then move toward the sky.
 */
function farAboveSkyOverGround(overrides: object, skyRows = 4, quality: 'fast' | 'balanced' = 'fast'): { luma: number; cb: number } {
  const out = expand(skyOverGround(skyRows), { up: 1, down: 0, left: 0, right: 0 }, { seed: 3, quality, overrides });
  let luma = 0;
  let cb = 0;
  for (let y = 0; y < 36; y++) {
    for (let x = 0; x < out.width; x++) {
      const o = (y * out.width + x) * 3;
      luma += 0.299 * out.data[o] + 0.587 * out.data[o + 1] + 0.114 * out.data[o + 2];
      cb += chromaB(out.data[o], out.data[o + 1], out.data[o + 2]);
    }
  }
  return { luma: luma / (36 * out.width), cb: cb / (36 * out.width) };
}

test('far above the original the new region drifts toward its top border, within the layer limit', () => {
  const farLuma = (overrides: object) => farAboveSkyOverGround(overrides).luma;
  // Sky: luminance ≈ 160; ground ≈ 87. The far region is mostly ground texture either way (the sky strip
  // holds no patch); the low-frequency layer brightens it toward the sky, by at most its limit (20 levels).
  const shipped = farLuma({});
  const without = farLuma({ tuning: { lowFrequencyWeight: 0, layoutPrior: 0 } });
  assert.ok(
    shipped > without + 8 && shipped < without + 21,
    `the low-frequency layer should brighten the far region toward the sky, within its limit (${shipped.toFixed(1)} vs ${without.toFixed(1)})`,
  );
});

test('a band of sky a fifth of the picture deep continues far above it: the far region is sky, not the ground that fills most of the picture', () => {
  // Sky: luma ≈ 160, Cb ≈ +42; ground: luma ≈ 87, Cb ≈ −27. With a coarsest level too coarse for the band
  // to hold a whole patch, the onion peel grew ground up into the sky (luma ≈ 110 after the layers).
  for (const quality of ['fast', 'balanced'] as const) {
    const far = farAboveSkyOverGround({}, 14, quality);
    assert.ok(far.luma > 145, `${quality}: the far region's luma should be the sky's (≈ 160): ${far.luma.toFixed(1)}`);
    assert.ok(far.cb > 30, `${quality}: the far region's Cb should be the sky's (≈ +42): ${far.cb.toFixed(1)}`);
  }
});

test('the chroma maps send each side\'s new chroma onto its own border band: identity for the same, a shift for a shifted one, monotone', () => {
  // A 12×1 canvas, the original at x 3–8, grown left and right; bands 3 columns deep (the original's halves).
  const known = { x0: 3, y0: 0, x1: 9, y1: 1 };
  type Rgb = [number, number, number];
  const canvas = (left: Rgb, right: Rgb, leftBand: Rgb, rightBand: Rgb): Float32Array => {
    const rgb = new Float32Array(12 * 3);
    for (let x = 0; x < 12; x++) rgb.set(x < 3 ? left : x < 6 ? leftBand : x < 9 ? rightBand : right, x * 3);
    return rgb;
  };
  const green: Rgb = [100, 140, 60];
  const blue: Rgb = [60, 90, 200];
  const red: Rgb = [200, 60, 50];
  const same = chromaMap(canvas(green, green, green, green), null, 12, 1, known, 1, 1)!;
  assert.equal(same.sides[0], null, 'the top does not grow');
  const left = same.sides[2]!;
  near(mapChroma(left.cb, chromaB(...green)), chromaB(...green), 0.3, 'Cb onto itself');
  near(mapChroma(left.cr, chromaR(...green)), chromaR(...green), 0.3, 'Cr onto itself');
  // Green grows on both sides; the left border is blue, the right one red: each side goes to its own.
  const two = chromaMap(canvas(green, green, blue, red), null, 12, 1, known, 1, 1)!;
  const [toLeft, toRight] = [two.sides[2]!, two.sides[3]!];
  near(mapChroma(toLeft.cb, chromaB(...green)), chromaB(...blue), 0.3, 'left: Cb onto the blue band');
  near(mapChroma(toLeft.cr, chromaR(...green)), chromaR(...blue), 0.3, 'left: Cr onto the blue band');
  near(mapChroma(toRight.cb, chromaB(...green)), chromaB(...red), 0.3, 'right: Cb onto the red band');
  near(mapChroma(toRight.cr, chromaR(...green)), chromaR(...red), 0.3, 'right: Cr onto the red band');
  // Values the working level never had (full resolution has more) shift like the ends, never jump.
  const cb = chromaB(...green);
  near(mapChroma(toLeft.cb, cb - 10) - mapChroma(toLeft.cb, cb), -10, 0.3, 'below the range');
  near(mapChroma(toLeft.cb, cb + 10) - mapChroma(toLeft.cb, cb), 10, 0.3, 'above the range');
  for (let v = -127; v < 127; v += 0.5) assert.ok(mapChroma(toRight.cr, v + 0.5) >= mapChroma(toRight.cr, v), `monotone at ${v}`);
  assert.equal(chromaMap(new Float32Array(18), null, 6, 1, { x0: 0, y0: 0, x1: 6, y1: 1 }, 1, 1), null, 'nothing grows');
});

test('far from the original the new region takes the chroma of the border band, not of the whole picture; brightness stays', () => {
  const far = farAboveSkyOverGround;
  // The top band is sky (Cb ≈ +42), most of the picture brown ground (Cb ≈ −27).
  const sky = chromaB(117, 167, 235);
  const shipped = far({});
  const without = far({ tuning: { chromaTransfer: 0 } });
  const unlimited = far({ tuning: { chromaLimit: 255 } });
  assert.ok(
    Math.abs(unlimited.cb - sky) < 0.5 * Math.abs(without.cb - sky),
    `unlimited, the far region's Cb should move most of the way to the sky band's ${sky.toFixed(1)}: ${unlimited.cb.toFixed(1)} (without: ${without.cb.toFixed(1)})`,
  );
  // Shipped, each pixel moves toward it by at most the limit (10 levels).
  assert.ok(
    shipped.cb > without.cb + 4 && shipped.cb <= without.cb + 10.5,
    `shipped, the far region's Cb should move toward the sky by up to 10 levels: ${shipped.cb.toFixed(1)} (without: ${without.cb.toFixed(1)})`,
  );
  near(shipped.luma, without.luma, 3, 'brightness (luma) of the far region');
  near(unlimited.luma, without.luma, 3, 'brightness (luma) of the far region, unlimited');
});
