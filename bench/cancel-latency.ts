/**
 * How soon a cancel stops a running job (issue 7's target: within a second), measured two ways:
 *
 * 1. the engine alone: the longest gap between two checks of its cancellation flag, and how long the
 *    uncancellable preparation takes, per input size;
 * 2. end to end over HTTP, on `outpaint serve` (the job runs in the process that gets the cancel) and on
 *    an API process beside a worker process (the job runs elsewhere and reads the cancel from the task's
 *    status): with one engine thread, a waiting task starts only once the cancelled job has stopped, so
 *    "cancel answered → waiting task processing" is the time the engine took to let go.
 *
 * Run after `npm run build`: `npm run bench:cancel` (take the benchmark lock: flock /tmp/outpaint-bench.lock …).
 */
import os from 'node:os';
import sharp from 'sharp';
import { prepare, synthesize } from '../src/engine/index.js';
import { api, createKeys, startServer, startSplitDeployment, stopServer, tempDataDir, token, waitFor } from '../test/support/outpaint-process.js';
import { scene } from '../test/support/pictures.js';

const SIZES: [number, number][] = [
  [1200, 900],
  [2400, 1800],
  [4000, 3000],
];
const RATIOS = { up: 0, down: 0, left: 1, right: 0.5 };
/** task_progress at which each round cancels. */
const CANCEL_AT = [1, 45, 85];
const ROUNDS = CANCEL_AT.length;
const EXPAND = '/v1/images/editing/expand';

function engineGaps(): void {
  console.log('engine: longest gap between cancellation checks (balanced preset, left 1 + right 0.5)');
  for (const [w, h] of SIZES) {
    const image = { data: scene(w, h, 3), width: w, height: h, channels: 3 as const };
    const t0 = performance.now();
    const prepared = prepare(image, RATIOS, { quality: 'balanced' });
    const prepareMs = performance.now() - t0;
    let last = performance.now();
    let longest = 0;
    const signal = {
      get aborted(): boolean {
        const now = performance.now();
        longest = Math.max(longest, now - last);
        last = now;
        return false;
      },
    };
    synthesize(prepared, 1, { signal });
    console.log(`  ${w}×${h}: preparation ${prepareMs.toFixed(0)} ms (not cancellable), longest gap ${longest.toFixed(0)} ms`);
  }
}

async function endToEnd(label: string, base: string, bearer: string): Promise<void> {
  for (const [w, h] of SIZES) {
    const image = (await sharp(scene(w, h, 5), { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toBuffer()).toString('base64');
    const body = (n: number) => ({ image, left_expansion_ratio: RATIOS.left, right_expansion_ratio: RATIOS.right, n });
    const figures: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const running = (await api(base, 'POST', EXPAND, bearer, body(3))).body.data.task_id;
      const waiting = (await api(base, 'POST', EXPAND, bearer, body(1))).body.data.task_id;
      await waitFor('processing', async () => {
        const t = (await api(base, 'GET', `${EXPAND}/${running}`, bearer)).body.data;
        // Each round cancels at another stage: coarse levels, middle, fine levels and the full-resolution pass.
        return t.task_status === 'processing' && t.task_progress >= CANCEL_AT[round % CANCEL_AT.length];
      });
      const canceled = await api(base, 'POST', `${EXPAND}/${running}/cancel`, bearer);
      const answered = performance.now();
      if (canceled.body.data?.task_status_msg !== 'canceled') throw new Error(JSON.stringify(canceled.body));
      await waitFor('the waiting task to start', async () => {
        const t = (await api(base, 'GET', `${EXPAND}/${waiting}`, bearer)).body.data;
        return t.task_status !== 'submitted';
      }, 30_000);
      figures.push(performance.now() - answered);
      await api(base, 'POST', `${EXPAND}/${waiting}/cancel`, bearer);
      await new Promise((r) => setTimeout(r, 300));
    }
    const max = Math.max(...figures);
    console.log(`  ${label}, ${w}×${h}: cancel at progress ${CANCEL_AT.join('/')} → engine free ${figures.map((f) => f.toFixed(0)).join('/')} ms (max ${max.toFixed(0)})`);
  }
}

async function main(): Promise<void> {
  console.log(`load: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; ${os.availableParallelism()} cores`);
  engineGaps();
  console.log(`end to end over HTTP (one engine thread, ${ROUNDS} rounds each; the waiting task's start is polled every 100 ms)`);
  const env = (dir: string) => ({ OUTPAINT_DATA_DIR: dir, OUTPAINT_PORT: '0', OUTPAINT_WORKERS: '1', OUTPAINT_QUALITY: 'balanced' });
  {
    const data = await tempDataDir();
    const keys = await createKeys(data.dir, 'bench');
    const server = await startServer(env(data.dir));
    try {
      await endToEnd('serve (same process)', server.url, await token(keys));
    } finally {
      await stopServer(server);
      await data.cleanup();
    }
  }
  {
    const split = await startSplitDeployment({ OUTPAINT_WORKERS: '1', OUTPAINT_QUALITY: 'balanced' });
    try {
      await endToEnd('api + worker processes', split.api.url, split.bearer);
    } finally {
      await split.close();
    }
  }
}

await main();
