import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { EnginePool } from '../src/engine-pool/index.js';
import { expandOnTwoThreads } from '../src/engine-pool/two-threads.js';
import { expand, plan } from '../src/engine/index.js';
import { EngineCancelledError, type RasterImage } from '../src/engine/types.js';

function scene(width: number, height: number): RasterImage {
  const data = new Uint8Array(width * height * 3);
  let s = 12345;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      const n = (s >>> 24) - 128;
      const i = (y * width + x) * 3;
      const ground = y > height / 2;
      data[i] = ground ? 80 + (n >> 2) : 120 + (y * 80) / height;
      data[i + 1] = ground ? 130 + (n >> 2) : 170;
      data[i + 2] = ground ? 40 : 230;
    }
  }
  return { data, width, height, channels: 3 };
}

const pool = new EnginePool({ threads: 2 });
after(() => pool.close());

const input = scene(72, 56);
const ratios = { up: 0.5, down: 0, left: 0.5, right: 0.25 };

test('n results in parallel: result i is the engine with seed + i, progress covers all n', async () => {
  const progress: { done: number; total: number }[] = [];
  const results = await pool.expand(input, ratios, {
    n: 3,
    seed: 10,
    quality: 'fast',
    progressIntervalMs: 5,
    onProgress: (p) => progress.push({ done: p.done, total: p.total }),
  });
  assert.equal(results.length, 3);
  for (let i = 0; i < 3; i++) {
    const direct = expand(input, ratios, { seed: 10 + i, quality: 'fast' });
    assert.equal(results[i].width, direct.width);
    assert.equal(results[i].height, direct.height);
    assert.equal(results[i].x, direct.x);
    assert.equal(results[i].y, direct.y);
    assert.deepEqual(results[i].data, direct.data, `result ${i} differs from the in-thread engine`);
  }
  assert.notDeepEqual(results[0].data, results[1].data);
  const total = plan(input.width, input.height, ratios, 'fast').steps * 3;
  assert.ok(progress.length >= 1);
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i].done > progress[i - 1].done);
  assert.deepEqual(progress[progress.length - 1], { done: total, total });
});

test('input on a SharedArrayBuffer is used as it is', async () => {
  const shared = new Uint8Array(new SharedArrayBuffer(input.data.length));
  shared.set(input.data);
  const [a] = await pool.expand({ ...input, data: shared }, ratios, { n: 1, seed: 4, quality: 'fast' });
  assert.deepEqual(a.data, expand(input, ratios, { seed: 4, quality: 'fast' }).data);
});

test('cancellation stops running and queued results and the pool stays usable', async () => {
  const big = scene(240, 180);
  const controller = new AbortController();
  const started = Date.now();
  const run = pool.expand(big, { up: 1, down: 0, left: 0.5, right: 0.5 }, {
    n: 5, // odd: the last result shares two threads
    seed: 1,
    quality: 'best',
    progressIntervalMs: 5,
    signal: controller.signal,
    onProgress: (p) => {
      if (p.done >= 1) controller.abort();
    },
  });
  await assert.rejects(run, EngineCancelledError);
  assert.ok(Date.now() - started < 20_000);
  const after = await pool.expand(input, ratios, { n: 2, seed: 1, quality: 'fast' });
  assert.equal(after.length, 2);
});

test('an already aborted signal rejects at once', async () => {
  await assert.rejects(pool.expand(input, ratios, { n: 2, signal: AbortSignal.abort() }), EngineCancelledError);
});

test('shared memory does not pile up from job to job (each job used to leave its input behind in the engine threads)', async () => {
  // 400×300 inputs: 360 KB of shared pixels per job, which an engine thread kept alive until its own GC ran.
  const big = scene(400, 300);
  const small = { up: 0.1, down: 0, left: 0, right: 0.1 };
  await pool.expand(big, small, { n: 2, seed: 1, quality: 'fast' });
  const before = process.memoryUsage().arrayBuffers;
  for (let i = 0; i < 40; i++) await pool.expand(big, small, { n: 1, seed: i, quality: 'fast' });
  const grown = process.memoryUsage().arrayBuffers - before;
  // Fresh buffers per job would add 40 × 360 KB ≈ 14 MB; reused ones stay put.
  assert.ok(grown < 4 * 1024 * 1024, `array buffers grew by ${(grown / 1048576).toFixed(1)} MB over 40 jobs`);
});

test('one result on two threads (the helper builds the look-alike graphs, the second halves of the working level and half the rows): the same bytes as one thread', async () => {
  // The small canvas is optimised at full resolution; the larger one has a working level below it, so the
  // deferred graph and the row split both cross a scale.
  const cases = [
    { image: input, ratios, quality: 'fast' as const },
    { image: scene(560, 380), ratios: { up: 0.5, down: 0.25, left: 0, right: 0.5 }, quality: 'fast' as const },
  ];
  assert.ok(plan(560, 380, cases[1].ratios, 'fast').working > 0);
  for (const c of cases) {
    for (const seed of [0, 7]) {
      const progress: number[] = [];
      const two = await expandOnTwoThreads(c.image, c.ratios, { seed, quality: c.quality, onProgress: (p) => progress.push(p.done) });
      const one = expand(c.image, c.ratios, { seed, quality: c.quality });
      assert.equal(Buffer.compare(Buffer.from(two.data), Buffer.from(one.data)), 0, `seed ${seed}, ${c.image.width}×${c.image.height}`);
      assert.deepEqual([two.width, two.height, two.x, two.y], [one.width, one.height, one.x, one.y]);
      assert.equal(progress.at(-1), plan(c.image.width, c.image.height, c.ratios, c.quality).steps);
    }
  }
});

test('an odd n on two threads: the last result shares both threads once the others are done, with the same bytes', async () => {
  // A working level below full resolution, so the helper runs second halves and rows.
  const image = scene(560, 380);
  const wide = { up: 0.5, down: 0.25, left: 0, right: 0.5 };
  const results = await pool.expand(image, wide, { n: 3, seed: 5, quality: 'fast' });
  for (let i = 0; i < 3; i++) {
    assert.equal(Buffer.compare(Buffer.from(results[i].data), Buffer.from(expand(image, wide, { seed: 5 + i, quality: 'fast' }).data)), 0, `result ${i}`);
  }
});

test('a shared last result whose thread or helper thread dies fails the job (or, helper gone before it was needed, finishes it alone) instead of hanging it, and the pool recovers', { timeout: 90_000 }, async () => {
  const own = new EnginePool({ threads: 2 });
  try {
    const image = scene(560, 380);
    const wide = { up: 0.5, down: 0.25, left: 0, right: 0.5 };
    const steps = plan(image.width, image.height, wide, 'balanced').steps;
    // Which of the two threads runs the result and which its helper is up to the pool: three jobs, each
    // killing one thread, make it likely that both cases occur.
    for (let round = 0; round < 3; round++) {
      let killed = false;
      const started = Date.now();
      const job = own.expand(image, wide, {
        n: 3,
        seed: 1,
        quality: 'balanced',
        progressIntervalMs: 5,
        onProgress: (p) => {
          // Results 0 and 1 are done and the shared third has begun: its two threads are the pool's two.
          if (!killed && p.done > 2 * steps) {
            killed = true;
            const threads = (own as unknown as { piscina: { threads: { terminate(): Promise<number> }[] } }).piscina.threads;
            void threads[round % threads.length].terminate();
          }
        },
      });
      const outcome = await job.then(
        (results) => results,
        (err: unknown) => err,
      );
      assert.ok(killed, 'the shared result never started');
      if (!(outcome instanceof Error)) {
        // The killed thread was the helper's before the result needed it (the pool saw it gone, so the
        // result ran its levels alone): the job may then succeed, with the bytes of one thread.
        assert.ok(Array.isArray(outcome), `round ${round}: neither results nor an error: ${String(outcome)}`);
        for (let i = 0; i < 3; i++) {
          assert.deepEqual(outcome[i].data, expand(image, wide, { seed: 1 + i, quality: 'balanced' }).data, `round ${round}, result ${i}`);
        }
      }
      assert.ok(Date.now() - started < 30_000, `round ${round} took ${Date.now() - started} ms`);
      const [again] = await own.expand(input, ratios, { n: 1, seed: 2, quality: 'fast' });
      assert.deepEqual(again.data, expand(input, ratios, { seed: 2, quality: 'fast' }).data);
    }
  } finally {
    await own.close();
  }
});

test('one result on two threads: an already aborted signal rejects at once', async () => {
  await assert.rejects(expandOnTwoThreads(input, ratios, { signal: AbortSignal.abort() }), EngineCancelledError);
});
