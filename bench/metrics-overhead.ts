/**
 * What metrics cost a request: query-one (a finished task, valid JWT) against two servers started alike
 * but for OUTPAINT_METRICS (off: nothing observed; open: every request counted in a counter and a
 * histogram). Rounds alternate between the two; the figures are medians, and the ratio is what to read.
 * Usage: npm run build && node dist/bench/metrics-overhead.js [--seconds 5] [--rounds 3]
 * Load from wrk (apt-get install -y wrk).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { api, createKeys, startServer, stopServer, tempDataDir, token, waitFor, type ServerProcess } from '../test/support/outpaint-process.js';
import { scenePng } from '../test/support/pictures.js';

const arg = (name: string, fallback: number) => Number(process.argv[process.argv.indexOf(name) + 1]) || fallback;
const seconds = arg('--seconds', 5);
const rounds = arg('--rounds', 3);

/** CPU seconds used so far by a process's main thread (the event loop), from /proc. */
function mainThreadCpu(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function load(pid: number, url: string, bearer: string): { rps: number; cpuUs: number } {
  const cpu0 = mainThreadCpu(pid);
  const out = execFileSync('wrk', ['-H', `Authorization: Bearer ${bearer}`, '-t1', '-c16', `-d${seconds}s`, url], { encoding: 'utf8' });
  if (/Non-2xx/.test(out)) throw new Error(`non-2xx answers from ${url}:\n${out}`);
  const requests = Number(/(\d+) requests in/.exec(out)![1]);
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)![1]), cpuUs: ((mainThreadCpu(pid) - cpu0) / requests) * 1e6 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function prepare(metrics: string): Promise<{ server: ServerProcess; url: string; bearer: string; cleanup: () => Promise<void> }> {
  const data = await tempDataDir();
  const keys = await createKeys(data.dir, 'bench');
  const server = await startServer({ OUTPAINT_DATA_DIR: data.dir, OUTPAINT_PORT: '0', OUTPAINT_WORKERS: '1', OUTPAINT_QUALITY: 'fast', OUTPAINT_RATE_LIMIT: '100000000', OUTPAINT_METRICS: metrics });
  const bearer = await token(keys);
  const created = await api(server.url, 'POST', '/v1/images/editing/expand', bearer, { image: (await scenePng(320, 320)).toString('base64'), left_expansion_ratio: 0.2 });
  const taskId = created.body.data.task_id;
  await waitFor('the task', async () => (await api(server.url, 'GET', `/v1/images/editing/expand/${taskId}`, bearer)).body.data.task_status === 'succeed');
  return {
    server,
    url: `${server.url}/v1/images/editing/expand/${taskId}`,
    bearer,
    cleanup: async () => {
      await stopServer(server);
      await data.cleanup();
    },
  };
}

const off = await prepare('off');
const open = await prepare('open');
const results = { off: [] as { rps: number; cpuUs: number }[], open: [] as { rps: number; cpuUs: number }[] };
try {
  for (let r = 0; r < rounds; r++) {
    results.off.push(load(off.server.child.pid!, off.url, off.bearer));
    results.open.push(load(open.server.child.pid!, open.url, open.bearer));
  }
  const fig = (xs: { rps: number; cpuUs: number }[]) => ({ rps: median(xs.map((x) => x.rps)), cpuUs: median(xs.map((x) => x.cpuUs)) });
  const [a, b] = [fig(results.off), fig(results.open)];
  console.log(`query-one, OUTPAINT_METRICS=off:  ${a.rps.toFixed(0)} req/s, event-loop CPU ${a.cpuUs.toFixed(1)} µs/request`);
  console.log(`query-one, OUTPAINT_METRICS=open: ${b.rps.toFixed(0)} req/s, event-loop CPU ${b.cpuUs.toFixed(1)} µs/request`);
  console.log(`open / off: throughput ${(b.rps / a.rps).toFixed(3)}, CPU per request ${(b.cpuUs / a.cpuUs).toFixed(3)} (medians of ${rounds} alternating rounds of ${seconds} s)`);
} finally {
  await off.cleanup();
  await open.cleanup();
}
