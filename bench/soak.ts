/**
 * Soak: `outpaint serve` under mixed traffic for SOAK_MINUTES (default 30): creates with callbacks to a
 * local receiver, polls, lists, downloads and a few refusals, at the rates below. Prints the server's RSS
 * and open file descriptors every minute and judges at the end: 0 5xx, 0 lost tasks (every task
 * succeeds), 0 lost callbacks (each task's three status changes arrive), and no leak: RSS swings by
 * 100–160 MB as the engine thread's and the HTTP thread's garbage collectors catch up (one run: 337 MB
 * at minute 27, 178 MB at minute 28), so a leak is judged on the troughs, sampled every 10 s: the lowest
 * RSS of the last third may exceed the lowest of minutes 5 to 10 by at most RSS_GROWTH_BOUND_MB, and no
 * sample may pass RSS_PEAK_BOUND_MB; descriptors, which do not swing, from minute 5 to the end.
 *   npm run build && flock /tmp/outpaint-bench.lock node dist/bench/soak.js
 */
import fs from 'node:fs';
import { api, createKeys, startServer, stopServer, tempDataDir, token, waitFor } from '../test/support/outpaint-process.js';
import { scenePng } from '../test/support/pictures.js';
import { startReceiver } from '../test/support/receiver.js';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 30);
/** Requests per second of each kind. */
const RATES = { create: 0.5, poll: 20, list: 2, download: 2, refused: 1 };
const RSS_GROWTH_BOUND_MB = 64;
const RSS_PEAK_BOUND_MB = 512;
const FD_GROWTH_BOUND = 16;
const EXPAND = '/v1/images/editing/expand';

function sample(pid: number): { rss: number; fds: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return { rss: Math.round(Number(/^VmRSS:\s+(\d+)/m.exec(status)![1]) / 1024), fds: fs.readdirSync(`/proc/${pid}/fd`).length };
}

const data = await tempDataDir();
const keys = await createKeys(data.dir, 'soak');
const receiver = await startReceiver(keys.webhook_secret);
// glibc's allocator as `npm start` sets it (package.json; README, "Memory"): SOAK_MALLOC=default leaves it alone.
const allocator: Record<string, string> =
  process.env.SOAK_MALLOC === 'default' ? {} : { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' };
const server = await startServer({
  ...allocator,
  OUTPAINT_DATA_DIR: data.dir,
  OUTPAINT_PORT: '0',
  OUTPAINT_WORKERS: '1',
  OUTPAINT_QUALITY: 'fast',
  OUTPAINT_RATE_LIMIT: '1000000',
  // The engine may fall behind on a shared machine: a backlog is not what this measures (1303 would be).
  OUTPAINT_ACCOUNT_CONCURRENCY: '100000',
  OUTPAINT_ALLOW_PRIVATE_HOSTS: '127.0.0.1',
});
const pid = server.child.pid!;
let bearer = await token(keys);
const images = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((seed) => scenePng(400, 300, seed).then((b) => b.toString('base64'))));
const counts: Record<string, number> = { create: 0, poll: 0, list: 0, download: 0, refused: 0 };
const fiveHundreds: string[] = [];
const unexpected: string[] = [];
const tasks: string[] = [];
const finished = new Map<string, string[]>(); // task id → result URLs

const record = (kind: string, status: number, want: number) => {
  counts[kind]++;
  if (status >= 500) fiveHundreds.push(`${kind} ${status}`);
  else if (status !== want) unexpected.push(`${kind} ${status}`);
};
const pick = <T>(xs: T[]): T | undefined => xs[Math.floor(Math.random() * xs.length)];

const actions: Record<keyof typeof RATES, () => Promise<void>> = {
  async create() {
    const res = await api(server.url, 'POST', EXPAND, bearer, {
      image: pick(images),
      left_expansion_ratio: 0.25,
      right_expansion_ratio: 0.25,
      callback_url: receiver.url,
    });
    record('create', res.status, 200);
    if (res.status === 200) tasks.push(res.body.data.task_id);
  },
  async poll() {
    const id = pick(tasks);
    if (!id) return;
    const res = await api(server.url, 'GET', `${EXPAND}/${id}`, bearer);
    record('poll', res.status, 200);
    if (res.body?.data?.task_status === 'succeed') finished.set(id, res.body.data.task_result.images.map((i: { url: string }) => i.url));
  },
  async list() {
    const res = await api(server.url, 'GET', `${EXPAND}?pageNum=1&pageSize=30`, bearer);
    record('list', res.status, 200);
  },
  async download() {
    const url = pick([...finished.values()].flat());
    if (!url) return;
    const res = await fetch(url);
    await res.arrayBuffer();
    record('download', res.status, 200);
  },
  async refused() {
    const res = await api(server.url, 'POST', EXPAND, bearer, { image: pick(images), n: 99, left_expansion_ratio: 1 });
    record('refused', res.status, 400);
  },
};

const inFlight = new Set<Promise<void>>();
const timers = Object.entries(RATES).map(([kind, perSecond]) =>
  setInterval(() => {
    const p = actions[kind as keyof typeof RATES]()
      .catch((err: Error) => void unexpected.push(`${kind} ${err.message}`))
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }, 1000 / perSecond),
);
const tokenRefresh = setInterval(async () => (bearer = await token(keys)), 10 * 60_000);

const started = Date.now();
const samples: { minute: number; rss: number; fds: number }[] = [];
/** Every 10 s: RSS in MB by the time it was taken (minutes since the start, fractional). */
const rssTrace: { at: number; rss: number }[] = [];
const tracer = setInterval(() => rssTrace.push({ at: (Date.now() - started) / 60_000, rss: sample(pid).rss }), 10_000);
console.log(`soak: allocator ${JSON.stringify(allocator)}, ${MINUTES} min at ${JSON.stringify(RATES)} req/s against ${server.url} (pid ${pid}); load ${fs.readFileSync('/proc/loadavg', 'utf8').trim()}`);
const first = sample(pid);
console.log(`minute 0: RSS ${first.rss} MB, fds ${first.fds}`);
for (let minute = 1; minute <= MINUTES; minute++) {
  await new Promise((r) => setTimeout(r, started + minute * 60_000 - Date.now()));
  const s = sample(pid);
  samples.push({ minute, ...s });
  console.log(
    `minute ${minute}: RSS ${s.rss} MB, fds ${s.fds}, tasks ${tasks.length} (${finished.size} seen succeed), callbacks ${receiver.received.length}, ` +
      `5xx ${fiveHundreds.length}, unexpected ${unexpected.length}; load ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
  );
}
timers.forEach(clearInterval);
clearInterval(tokenRefresh);
clearInterval(tracer);
await Promise.allSettled([...inFlight]);

// Every task finishes, and every status change of every task reaches the receiver.
const lost: string[] = [];
await waitFor('every task to finish', async () => {
  for (const id of tasks) {
    const q = await api(server.url, 'GET', `${EXPAND}/${id}`, bearer);
    if (!['succeed', 'failed'].includes(q.body.data.task_status)) return false;
  }
  return true;
}, 300_000).catch(() => undefined);
for (const id of tasks) {
  const q = await api(server.url, 'GET', `${EXPAND}/${id}`, bearer);
  if (q.body.data.task_status !== 'succeed') lost.push(`${id} ${q.body.data.task_status} ${q.body.data.task_status_msg}`);
}
const missingCallbacks = () =>
  tasks.flatMap((id) =>
    ['submitted', 'processing', 'succeed']
      .filter((status) => !receiver.received.some((r) => r.body.task_id === id && r.body.task_status === status))
      .map((status) => `${id} ${status}`),
  );
await waitFor('every callback', async () => missingCallbacks().length === 0, 120_000).catch(() => undefined);
const lostCallbacks = missingCallbacks();
const end = sample(pid);
await stopServer(server);
await receiver.close();
await data.cleanup();

// Judged from minute 5, once caches and the heap have warmed up (minute 1 is printed too).
const base = samples.find((s) => s.minute === 5) ?? samples[0] ?? first;
const lowest = (from: number, to: number) => Math.min(...rssTrace.filter((s) => s.at >= from && s.at <= to).map((s) => s.rss));
const troughEarly = lowest(5, 10);
const troughLate = lowest((MINUTES * 2) / 3, MINUTES);
const peak = Math.max(...rssTrace.map((s) => s.rss), end.rss);
// A run too short to have both windows cannot judge a leak: NaN fails the bound below.
const rssGrowth = Number.isFinite(troughEarly) && Number.isFinite(troughLate) ? troughLate - troughEarly : NaN;
const fdGrowth = end.fds - base.fds;
console.log(`requests: ${JSON.stringify(counts)}; tasks ${tasks.length}, callbacks received ${receiver.received.length}`);
console.log(
  `RSS: start ${first.rss} MB, minute 1 ${samples[0]?.rss} MB, minute 5 ${base.rss} MB, end ${end.rss} MB; ` +
    `lowest of minutes 5–10 ${troughEarly} MB, of the last third ${troughLate} MB (growth ${rssGrowth} MB, bound ${RSS_GROWTH_BOUND_MB}); ` +
    `peak ${peak} MB (bound ${RSS_PEAK_BOUND_MB})`,
);
console.log(`fds: start ${first.fds}, minute 1 ${samples[0]?.fds}, minute 5 ${base.fds}, max ${Math.max(...samples.map((s) => s.fds))}, end ${end.fds} (growth ${fdGrowth}, bound ${FD_GROWTH_BOUND})`);
console.log(`5xx: ${fiveHundreds.length}; unexpected answers: ${unexpected.length} ${unexpected.slice(0, 5).join(', ')}`);
console.log(`lost tasks: ${lost.length} ${lost.slice(0, 5).join(', ')}; lost callbacks: ${lostCallbacks.length} ${lostCallbacks.slice(0, 5).join(', ')}`);
const pass = fiveHundreds.length === 0 && unexpected.length === 0 && lost.length === 0 && lostCallbacks.length === 0 && rssGrowth <= RSS_GROWTH_BOUND_MB && peak <= RSS_PEAK_BOUND_MB && fdGrowth <= FD_GROWTH_BOUND;
console.log(pass ? 'PASS' : 'FAIL');
process.exit(pass ? 0 : 1);
