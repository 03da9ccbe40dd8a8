import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expand, GREEDY, plan, prepare, PRESETS, synthesize, TUNING } from '../src/engine/index.js';
import { expansionGeometry, type ExpansionRatios } from '../src/engine/geometry.js';
import { EngineCancelledError, type ExpandedImage, type RasterImage } from '../src/engine/types.js';

// Small synthetic images, generated here: the engine is resolution-independent, so 40–120 px inputs
// exercise every code path (several pyramid levels, the full-resolution vote, the seam correction) fast.

function makeImage(width: number, height: number, channels: 3 | 4, pixel: (x: number, y: number, c: number) => number): RasterImage {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = Math.max(0, Math.min(255, Math.round(pixel(x, y, c))));
    }
  }
  return { data, width, height, channels };
}

function noiseSource(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

const flat = (w: number, h: number) => makeImage(w, h, 3, (_x, _y, c) => [90, 140, 200][c]);
const gradient = (w: number, h: number) => makeImage(w, h, 3, (x, y, c) => (c === 0 ? (255 * x) / (w - 1) : c === 1 ? (255 * y) / (h - 1) : 128));
const stripes = (w: number, h: number) => makeImage(w, h, 3, (x, _y, c) => (Math.floor(x / 4) % 2 ? 230 : 20) - c * 5);
function noisy(w: number, h: number): RasterImage {
  const rnd = noiseSource(7);
  return makeImage(w, h, 3, () => rnd() * 255);
}
/** A little scene: sky gradient over textured ground with a few blobs, RGBA to test the alpha path. */
function scene(w: number, h: number): RasterImage {
  const rnd = noiseSource(11);
  return makeImage(w, h, 4, (x, y, c) => {
    if (c === 3) return 255;
    const ground = y > h * 0.55;
    const base = ground ? [70, 120, 40][c] : [120 + (y / h) * 80, 160 + (y / h) * 60, 230][c];
    const blob = Math.hypot(x - w * 0.3, y - h * 0.7) < h * 0.12 ? [120, -60, -20][c] : 0;
    return base + blob + (ground ? (rnd() - 0.5) * 50 : 0);
  });
}

/** The original's pixels must appear unchanged (RGB of the input) at (x, y) of the result. */
function assertOriginalExact(input: RasterImage, out: ExpandedImage): void {
  for (let y = 0; y < input.height; y++) {
    for (let x = 0; x < input.width; x++) {
      const i = (y * input.width + x) * input.channels;
      const o = ((y + out.y) * out.width + x + out.x) * 3;
      if (out.data[o] !== input.data[i] || out.data[o + 1] !== input.data[i + 1] || out.data[o + 2] !== input.data[i + 2]) {
        assert.fail(`original pixel (${x}, ${y}) changed`);
      }
    }
  }
}

function generatedStats(input: RasterImage, out: ExpandedImage): { mean: number[]; min: number[]; max: number[]; count: number } {
  const mean = [0, 0, 0];
  const min = [255, 255, 255];
  const max = [0, 0, 0];
  let count = 0;
  for (let y = 0; y < out.height; y++) {
    for (let x = 0; x < out.width; x++) {
      if (x >= out.x && x < out.x + input.width && y >= out.y && y < out.y + input.height) continue;
      count++;
      for (let c = 0; c < 3; c++) {
        const v = out.data[(y * out.width + x) * 3 + c];
        mean[c] += v;
        if (v < min[c]) min[c] = v;
        if (v > max[c]) max[c] = v;
      }
    }
  }
  return { mean: mean.map((m) => m / Math.max(1, count)), min, max, count };
}

const RATIO_CASES: [string, number, number, ExpansionRatios][] = [
  ['wide', 48, 40, { up: 0, down: 0, left: 0.5, right: 0.5 }],
  ['one side up', 48, 40, { up: 1, down: 0, left: 0, right: 0 }],
  ['down only, 1 px', 48, 40, { up: 0, down: 0.02, left: 0, right: 0 }],
  ['left 1 px', 48, 40, { up: 0, down: 0, left: 0.02, right: 0 }],
  ['1 px on every side', 50, 50, { up: 0.02, down: 0.02, left: 0.02, right: 0.02 }],
  ['3× area, corner', 48, 40, { up: 0, down: 0.5, left: 0, right: 1 }],
  ['3× area, one side', 40, 40, { up: 0, down: 0, left: 2, right: 0 }],
  ['3× area, vertical', 40, 40, { up: 1, down: 1, left: 0, right: 0 }],
  ['ring', 44, 44, { up: 0.25, down: 0.25, left: 0.25, right: 0.25 }],
  ['odd ratios', 47, 41, { up: 0.13, down: 0.31, left: 0.27, right: 0.41 }],
  ['aspect 1:2.5', 40, 100, { up: 0.2, down: 0, left: 0.5, right: 0.5 }],
  ['aspect 2.5:1', 100, 40, { up: 0.5, down: 0.5, left: 0.1, right: 0 }],
  ['aspect 2.5:1 grown tall', 100, 40, { up: 1, down: 1, left: 0, right: 0 }],
];

for (const [name, w, h, ratios] of RATIO_CASES) {
  test(`size, placement and exact original: ${name}`, () => {
    const input = scene(w, h);
    const out = expand(input, ratios, { seed: 1, quality: 'fast' });
    const g = expansionGeometry(w, h, ratios);
    assert.equal(out.width, g.width);
    assert.equal(out.height, g.height);
    assert.equal(out.x, g.x);
    assert.equal(out.y, g.y);
    assert.equal(out.channels, 3);
    assert.equal(out.data.length, g.width * g.height * 3);
    assertOriginalExact(input, out);
  });
}

test('a larger input exercises the full-resolution vote through the scaled-up field', () => {
  const input = scene(400, 300);
  const ratios = { up: 0.25, down: 0.25, left: 0.5, right: 0.5 };
  assert.ok(plan(400, 300, ratios, 'fast').working >= 1, 'this case should optimise below full resolution');
  const out = expand(input, ratios, { seed: 3, quality: 'fast' });
  assertOriginalExact(input, out);
  const s = generatedStats(input, out);
  // Ground is green, sky blue: the new region holds colours of the image, not black or garbage.
  assert.ok(s.mean[2] > 60 && s.mean[1] > 60, `means ${s.mean}`);
});

test('same seed gives the same bytes; different seeds differ', () => {
  const input = scene(64, 48);
  const ratios = { up: 0.5, down: 0, left: 0.5, right: 0.5 };
  const a = expand(input, ratios, { seed: 42, quality: 'fast' });
  const b = expand(input, ratios, { seed: 42, quality: 'fast' });
  assert.deepEqual(a.data, b.data);
  const c = expand(input, ratios, { seed: 43, quality: 'fast' });
  let diff = 0;
  for (let i = 0; i < a.data.length; i++) diff += Math.abs(a.data[i] - c.data[i]);
  const generated = a.data.length - input.width * input.height * 3;
  assert.ok(diff / generated > 2, `mean difference ${diff / generated} between seeds is too small`);
  // prepare + synthesize is the same computation as expand.
  const prepared = prepare(input, ratios, { quality: 'fast' });
  assert.deepEqual(synthesize(prepared, 42).data, a.data);
  assert.deepEqual(synthesize(prepared, 43).data, c.data);
});

test('flat input grows flat', () => {
  const input = flat(40, 40);
  const out = expand(input, { up: 0.5, down: 0.5, left: 0.5, right: 0 }, { seed: 5, quality: 'fast' });
  const s = generatedStats(input, out);
  assert.deepEqual(s.min, [90, 140, 200]);
  assert.deepEqual(s.max, [90, 140, 200]);
});

test('gradient, stripes and noise stay in range with nothing degenerate', () => {
  for (const [name, input] of [
    ['gradient', gradient(48, 40)],
    ['stripes', stripes(48, 40)],
    ['noise', noisy(48, 40)],
  ] as const) {
    const out = expand(input, { up: 0.3, down: 0.3, left: 0.4, right: 0.4 }, { seed: 9, quality: 'fast' });
    assertOriginalExact(input, out);
    const s = generatedStats(input, out);
    const inMin = [255, 255, 255];
    const inMax = [0, 0, 0];
    for (let i = 0; i < input.data.length; i++) {
      const c = i % 3;
      inMin[c] = Math.min(inMin[c], input.data[i]);
      inMax[c] = Math.max(inMax[c], input.data[i]);
    }
    for (let c = 0; c < 3; c++) {
      // The seam correction may push slightly beyond the input's range; nothing wild.
      assert.ok(s.min[c] >= inMin[c] - 12 && s.max[c] <= inMax[c] + 12, `${name} channel ${c}: ${s.min[c]}..${s.max[c]}`);
    }
    if (name !== 'gradient') {
      // Texture continues: the new region is not a smooth blur of a textured input.
      let tv = 0;
      for (let y = 0; y < out.height; y++) {
        for (let x = 1; x < out.x; x++) tv += Math.abs(out.data[(y * out.width + x) * 3] - out.data[(y * out.width + x - 1) * 3]);
      }
      assert.ok(tv / (out.height * Math.max(1, out.x - 1)) > 10, `${name}: the new region is too smooth`);
    }
  }
});

test('cancellation: an aborted signal stops the engine with EngineCancelledError', () => {
  const input = scene(64, 48);
  const ratios = { up: 0, down: 0, left: 0.5, right: 0.5 };
  assert.throws(() => expand(input, ratios, { signal: { aborted: true } }), EngineCancelledError);
  const signal = { aborted: false };
  let calls = 0;
  assert.throws(
    () =>
      expand(input, ratios, {
        signal,
        onProgress: () => {
          if (++calls === 2) signal.aborted = true;
        },
      }),
    EngineCancelledError,
  );
  assert.equal(calls, 2);
});

test('progress counts up to its total', () => {
  const input = scene(64, 48);
  const seen: number[] = [];
  let total = 0;
  expand(input, { up: 0.5, down: 0, left: 0, right: 0 }, {
    quality: 'fast',
    onProgress: (p) => {
      seen.push(p.done);
      total = p.total;
    },
  });
  assert.ok(seen.length > 2);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1]);
  assert.equal(seen[seen.length - 1], total);
  assert.equal(total, plan(64, 48, { up: 0.5, down: 0, left: 0, right: 0 }, 'fast').steps);
});

test('inputs too small for a patch are refused', () => {
  assert.throws(() => expand(flat(5, 40), { up: 0, down: 0, left: 0.5, right: 0 }), RangeError);
});

test('geometry rounds halves to even, as the shared benchmark (Python) does', () => {
  assert.deepEqual(expansionGeometry(1024, 385, { up: 0.5, down: 0.5, left: 0, right: 0 }), { width: 1024, height: 770, x: 0, y: 192 });
  assert.deepEqual(expansionGeometry(387, 300, { up: 0, down: 0, left: 0.5, right: 0.5 }), { width: 774, height: 300, x: 194, y: 0 });
  assert.equal(expansionGeometry(1000, 300, { up: 0.3, down: 0, left: 0.1, right: 0 }).y, 90);
});

test('the shipped tables are frozen; a sweep passes overrides, which change only its own call', () => {
  assert.ok(Object.isFrozen(TUNING) && Object.isFrozen(GREEDY) && Object.isFrozen(PRESETS) && Object.isFrozen(PRESETS.balanced));
  assert.throws(() => {
    (TUNING as { reusePenalty: number }).reusePenalty = 1;
  }, TypeError);
  const input = scene(64, 48);
  const ratios = { up: 0.5, down: 0, left: 0.5, right: 0 };
  const before = expand(input, ratios, { seed: 2, quality: 'fast' });
  const swept = expand(input, ratios, { seed: 2, quality: 'fast', overrides: { greedy: { enabled: false }, tuning: { reusePenalty: 0 } } });
  assert.notDeepEqual(swept.data, before.data);
  assert.equal(plan(64, 48, ratios, 'fast', { preset: { minIterations: 9 } }).iterations.every((n) => n >= 9), true);
  assert.deepEqual(expand(input, ratios, { seed: 2, quality: 'fast' }).data, before.data);
});
