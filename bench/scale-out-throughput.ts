/**
 * Finished tasks per minute on the scale-out backend with 1 and 2 `outpaint worker` processes, and on
 * the embedded backend with one `outpaint serve`, in one run (issue 6's targets: 2 workers ≥ 1.7× 1
 * worker; scale-out with 2 workers ≥ 0.90× embedded with 2 engine threads).
 *
 *   A  scale-out, 1 worker:  `serve --no-workers` + 1 × `worker` (OUTPAINT_WORKERS=1), PostgreSQL + s3rver
 *   B  scale-out, 2 workers: the same API + 2 × `worker` (OUTPAINT_WORKERS=1 each)
 *   C  embedded:             one `serve` with OUTPAINT_WORKERS=2 (SQLite + disk)
 *
 * A measurement: the configuration's engine processes are started fresh, a batch of identical tasks is
 * created at once (concurrent POSTs), and the time runs from just before the first create to the last
 * task's `updated_at` as it turned succeed (the server's clock is this machine's, so polling's delay
 * is not counted). Configurations alternate over rounds (ABC, then CBA, …); medians are reported.
 * The scale-out API runs for the whole bench on a fresh PostgreSQL schema (dropped after) and one
 * s3rver bucket.
 *
 * Usage: npm run build && npm run bench:scale-out -- [--rounds 2] [--tasks 32] [--size 512x384] [--quality balanced]
 *   PostgreSQL: OUTPAINT_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test.
 *   Take the benchmark lock on a shared machine: flock /tmp/outpaint-bench.lock npm run bench:scale-out
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { api, runCli, startServer, startWorker, stopServer, tempDataDir, token, type Keys, type ServerProcess } from '../test/support/outpaint-process.js';
import { sceneJpeg } from '../test/support/pictures.js';
import { freshSchema } from '../test/support/postgres.js';
import { startS3Server } from '../test/support/s3-server.js';

const EXPAND = '/v1/images/editing/expand';
const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i < 0 ? fallback : args[i + 1];
};
const rounds = Number(option('--rounds', '2'));
const batch = Number(option('--tasks', '32'));
const [width, height] = option('--size', '512x384').split('x').map(Number);
const quality = option('--quality', 'balanced');
if (!(rounds >= 1 && batch >= 1 && width > 0 && height > 0)) {
  process.stderr.write('usage: scale-out-throughput.js [--rounds R] [--tasks N] [--size WxH] [--quality Q]\n');
  process.exit(2);
}

/** Settings every process gets: no limit of the API's gets in the way of a batch. */
const COMMON = {
  OUTPAINT_PORT: '0',
  OUTPAINT_QUALITY: quality,
  OUTPAINT_RATE_LIMIT: '100000000',
  OUTPAINT_ACCOUNT_CONCURRENCY: '100000',
  OUTPAINT_SWEEP_INTERVAL_S: '0',
};

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

/** CPU seconds a process used so far, all its threads (utime + stime, in 10 ms ticks). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function createKeys(env: Record<string, string>): Promise<Keys> {
  const out = await runCli(['keys', 'create', '--name', 'bench', '--json'], { env: { ...process.env, ...env } });
  if (out.code !== 0) throw new Error(`keys create failed: ${out.stderr}`);
  return JSON.parse(out.stdout) as Keys;
}

interface Measured {
  tasksPerMin: number;
  seconds: number;
  /** CPU seconds of the engine processes (workers, or the embedded server) and of the scale-out API. */
  engineCpu: number;
  apiCpu: number;
  /** Median engine time of a task, and the share of the wall time the engine threads spent on jobs (claim to complete excluded). */
  engineMs: number;
  busy: number;
}

/** The runners' "task succeeded" log lines of these processes: engine time and job time per task. */
function jobTimes(engines: ServerProcess[], ids: Set<string>): { engineMs: number; totalMs: number }[] {
  return engines.flatMap((e) =>
    e
      .stdout()
      .split('\n')
      .filter((line) => line.includes('"task succeeded"'))
      .map((line) => JSON.parse(line) as { taskId: string; engineMs: number; totalMs: number })
      .filter((l) => ids.has(l.taskId)),
  );
}

/** Creates the batch at once through `url` and waits until every task succeeded. */
async function runBatch(url: string, bearer: string, image: string, engines: ServerProcess[], apiProcess: ServerProcess, threads: number): Promise<Measured> {
  const pids = engines.map((e) => e.child.pid!);
  const cpu0 = pids.map(cpuSeconds);
  const api0 = cpuSeconds(apiProcess.child.pid!);
  const started = Date.now();
  const created = await Promise.all(
    Array.from({ length: batch }, () => api(url, 'POST', EXPAND, bearer, { image, left_expansion_ratio: 0.25, right_expansion_ratio: 0.25 })),
  );
  const ids = new Set(
    created.map((r) => {
      if (r.status !== 200) throw new Error(`create answered ${r.status}: ${JSON.stringify(r.body)}`);
      return r.body.data.task_id as string;
    }),
  );
  const deadline = Date.now() + 20 * 60_000;
  for (;;) {
    // The newest page holds this batch (newest first, earlier rounds' tasks after it).
    const list = await api(url, 'GET', `${EXPAND}?pageNum=1&pageSize=500`, bearer);
    const mine = (list.body.data as { task_id: string; task_status: string; updated_at: number }[]).filter((t) => ids.has(t.task_id));
    const failed = mine.find((t) => t.task_status === 'failed');
    if (failed) throw new Error(`task ${failed.task_id} failed: ${JSON.stringify(failed)}`);
    if (mine.length === batch && mine.every((t) => t.task_status === 'succeed')) {
      const seconds = (Math.max(...mine.map((t) => t.updated_at)) - started) / 1000;
      const jobs = jobTimes(engines, ids);
      return {
        engineMs: median(jobs.map((j) => j.engineMs)),
        busy: jobs.reduce((a, j) => a + j.totalMs, 0) / 1000 / threads / seconds,
        seconds,
        tasksPerMin: (batch / seconds) * 60,
        engineCpu: pids.map(cpuSeconds).reduce((a, c, i) => a + c - cpu0[i], 0),
        apiCpu: cpuSeconds(apiProcess.child.pid!) - api0,
      };
    }
    if (Date.now() > deadline) throw new Error('the batch did not finish in 20 minutes');
    await new Promise((r) => setTimeout(r, 250));
  }
}

const image = (await sceneJpeg(width, height, 7)).toString('base64');
const s3 = await startS3Server();
const schema = await freshSchema();
const dirs: { cleanup: () => Promise<void> }[] = [];
let scaleOutApi: ServerProcess | null = null;
try {
  // The scale-out API, for the whole bench.
  const scaleOutDir = await tempDataDir();
  dirs.push(scaleOutDir);
  const scaleOutEnv = { ...COMMON, ...s3.env(await s3.createBucket('bench-scale-out')), OUTPAINT_DATABASE_URL: schema.url, OUTPAINT_DATA_DIR: scaleOutDir.dir };
  const scaleOutKeys = await createKeys(scaleOutEnv);
  scaleOutApi = await startServer(scaleOutEnv, ['--no-workers']);
  const scaleOutBearer = await token(scaleOutKeys, 24 * 3600);
  // Info logs: each job's "task succeeded" line tells its engine time.
  const workerEnv = { ...scaleOutEnv, OUTPAINT_WORKERS: '1', OUTPAINT_PUBLIC_URL: scaleOutApi.url, OUTPAINT_LOG_LEVEL: 'info' };

  const embeddedDir = await tempDataDir();
  dirs.push(embeddedDir);
  const embeddedEnv = { ...COMMON, OUTPAINT_DATA_DIR: embeddedDir.dir, OUTPAINT_WORKERS: '2', OUTPAINT_LOG_LEVEL: 'info' };
  const embeddedBearer = await token(await createKeys(embeddedEnv), 24 * 3600);

  const configs = [
    {
      label: 'A scale-out, 1 worker ',
      async measure(): Promise<Measured> {
        const workers = [await startWorker(workerEnv)];
        try {
          return await runBatch(scaleOutApi!.url, scaleOutBearer, image, workers, scaleOutApi!, workers.length);
        } finally {
          await Promise.all(workers.map((w) => stopServer(w)));
        }
      },
    },
    {
      label: 'B scale-out, 2 workers',
      async measure(): Promise<Measured> {
        const workers = await Promise.all([startWorker(workerEnv), startWorker(workerEnv)]);
        try {
          return await runBatch(scaleOutApi!.url, scaleOutBearer, image, workers, scaleOutApi!, workers.length);
        } finally {
          await Promise.all(workers.map((w) => stopServer(w)));
        }
      },
    },
    {
      label: 'C embedded, 2 threads ',
      async measure(): Promise<Measured> {
        const server = await startServer(embeddedEnv);
        try {
          return await runBatch(server.url, embeddedBearer, image, [server], server, 2);
        } finally {
          await stopServer(server);
        }
      },
    },
  ];

  console.log(
    `scale-out throughput: ${batch} tasks of a ${width}x${height} JPEG (left/right 0.25, n=1, OUTPAINT_QUALITY=${quality}) created at once; ` +
      `${rounds} rounds; ${os.cpus().length} cores; load average at start ${load()}`,
  );
  const results = configs.map(() => [] as Measured[]);
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? [0, 1, 2] : [2, 1, 0];
    for (const i of order) {
      const m = await configs[i].measure();
      results[i].push(m);
      console.log(
        `round ${r + 1}  ${configs[i].label}  ${m.tasksPerMin.toFixed(1).padStart(6)} tasks/min  (${m.seconds.toFixed(2)} s; engine ${m.engineMs} ms a task, threads busy ${(m.busy * 100).toFixed(0)} %; engines' CPU ${m.engineCpu.toFixed(1)} s = ${(m.engineCpu / m.seconds).toFixed(2)} cores` +
          `${i === 2 ? '' : `, API ${m.apiCpu.toFixed(1)}`})  load ${load()}`,
      );
    }
  }
  const [a, b, c] = results.map((rs) => median(rs.map((m) => m.tasksPerMin)));
  console.log(`median tasks/min: A ${a.toFixed(1)}, B ${b.toFixed(1)}, C ${c.toFixed(1)}`);
  const scaling = b / a;
  const cost = b / c;
  console.log(`2 workers / 1 worker (B/A):  ${scaling.toFixed(2)}  target ≥ 1.70  ${scaling >= 1.7 ? 'PASS' : 'FAIL'}`);
  console.log(`scale-out / embedded (B/C):  ${cost.toFixed(2)}  target ≥ 0.90  ${cost >= 0.9 ? 'PASS' : 'FAIL'}`);
  console.log(`load average at end ${load()}`);
} finally {
  if (scaleOutApi) await stopServer(scaleOutApi);
  await s3.close();
  await schema.drop();
  for (const d of dirs) await d.cleanup();
}
