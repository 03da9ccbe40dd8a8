/**
 * What one storage operation costs on PostgreSQL + pg-boss, for estimating where a large installation's
 * bottleneck lies: operations per second and mean latency of each, from one process with one pool,
 * `--concurrency` callers at once, on a fresh schema (dropped after).
 *
 * Usage: npm run build && node dist/bench/postgres-ops.js [--seconds 3] [--concurrency 8]
 */
import { performance } from 'node:perf_hooks';
import { openPostgresBackend } from '../src/storage/postgres/index.js';
import { newTask } from '../test/contract/fixtures.js';
import { freshSchema } from '../test/support/postgres.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i < 0 ? fallback : Number(args[i + 1]);
};
const seconds = option('--seconds', 3);
const concurrency = option('--concurrency', 8);

const schema = await freshSchema();
const backend = await openPostgresBackend(schema.url);
const roomy = { maxAccountSlots: 1e9, maxQueuedJobs: 1e9 };

/**
 * Runs `op` from `concurrency` loops for `seconds` (or until an op answers false: nothing left); prints
 * ops/s and the mean latency. Returns how many ops ran.
 */
async function measure(label: string, op: (caller: number, i: number) => Promise<unknown>): Promise<number> {
  const start = performance.now();
  const end = start + seconds * 1000;
  let done = 0;
  let busy = 0;
  let exhausted = false;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, caller) => {
      for (let i = 0; !exhausted && performance.now() < end; i++) {
        const t0 = performance.now();
        if ((await op(caller, i)) === false) {
          exhausted = true;
          break;
        }
        busy += performance.now() - t0;
        done++;
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  process.stdout.write(`  ${label.padEnd(52)} ${(done / elapsed).toFixed(0).padStart(7)} ops/s  ${(busy / done).toFixed(2).padStart(6)} ms each\n`);
  return done;
}

try {
  process.stdout.write(`PostgreSQL storage operations, ${concurrency} concurrent callers, ${seconds} s each, one pool of 10\n`);
  await measure('claim, nothing queued (an idle worker poll)', (c) => backend.queue.claim(`idle-${c}`, 60_000));
  const task = (await backend.tasks.create(newTask(), roomy, null)) as { ok: true; task: { id: string } };
  await backend.queue.complete((await backend.queue.claim('w', 60_000))!.id, 'w');
  await measure('query one task (read by id)', () => backend.tasks.getByIdOrExternalId('acct_a', task.task.id));
  await measure('rate hit, one key per caller', (c) => backend.rateCounter.hit(`bench:${c}`, 60_000));
  await measure('heartbeat (an UPDATE by primary key)', async (c) => {
    await backend.queue.heartbeat('00000000-0000-0000-0000-000000000000', `w${c}`, 60_000);
  });
  const created = await measure('create (task + pg-boss job), one account per caller', (c) =>
    backend.tasks.create(newTask({ accountId: `acct_${c}` }), roomy, null),
  );
  const claimed = await measure('claim + complete, while jobs wait', async (c) => {
    const job = await backend.queue.claim(`w${c}`, 60_000);
    if (!job) return false;
    await backend.queue.complete(job.id, `w${c}`);
  });
  process.stdout.write(`  (${claimed} of the ${created} created jobs claimed and completed)\n`);
} finally {
  await backend.close();
  await schema.drop();
}
