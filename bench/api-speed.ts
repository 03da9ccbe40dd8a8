/**
 * API benchmark: the figures the service issue asks for, measured in one run on this machine.
 *   1. query-one throughput with a valid JWT vs a bare Fastify hello-world (ratio ≥ 0.5), p50/p99
 *   2. create with a 2 MB PNG as base64: p50 latency ≤ 100 ms
 *   3. submit → succeed for 1024×640, n=1, left/right 0.5: overhead beyond the engine's own time ≤ 300 ms
 *   4. GET /healthz p99 ≤ 50 ms while both cores are busy expanding images
 * Usage: npm run build && node dist/bench/api-speed.js [--seconds 10]
 */
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { api, createKeys, startServer, stopServer, tempDataDir, token, waitFor } from '../test/support/outpaint-process.js';
import { startReceiver } from '../test/support/receiver.js';

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 10;

function cannon(url: string, headers: Record<string, string> = {}, duration = seconds) {
  return autocannon({ url, connections: 10, duration, headers });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** A photo-like PNG of about 2 MB: smooth structure plus fine noise (noise is what makes PNG big). */
async function twoMegabytePng(): Promise<Buffer> {
  const w = 1100, h = 760;
  const px = new Uint8Array(w * h * 3);
  let s = 12345;
  for (let i = 0; i < px.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const x = (i / 3) % w, y = Math.floor(i / 3 / w);
    px[i] = (128 + 60 * Math.sin(x / 37 + (i % 3)) * Math.cos(y / 23) + (s >>> 28)) & 255;
  }
  return sharp(px, { raw: { width: w, height: h, channels: 3 } }).png({ compressionLevel: 9 }).toBuffer();
}

const data = await tempDataDir();
const keys = await createKeys(data.dir, 'bench');
const receiver = await startReceiver(keys.webhook_secret);
const server = await startServer({
  OUTPAINT_DATA_DIR: data.dir,
  OUTPAINT_PORT: '0',
  OUTPAINT_LOG_LEVEL: 'info',
  OUTPAINT_RATE_LIMIT: '100000000',
  OUTPAINT_ACCOUNT_CONCURRENCY: '1000',
  OUTPAINT_ALLOW_PRIVATE_HOSTS: '127.0.0.1',
});


const bearer = await token(keys);
const out: string[] = [];
const say = (line: string) => {
  out.push(line);
  process.stdout.write(line + '\n');
};

try {
  // A finished task to query.
  const photo = await sharp({ create: { width: 1024, height: 640, channels: 3, background: '#7a9' } })
    .composite([{ input: await twoMegabytePng(), left: 0, top: 0, blend: 'over' }])
    .png()
    .toBuffer();
  const first = await api(server.url, 'POST', '/v1/images/editing/expand', bearer, {
    image: photo.toString('base64'),
    left_expansion_ratio: 0.5,
    right_expansion_ratio: 0.5,
    callback_url: receiver.url,
  });
  const taskId: string = first.body.data.task_id;
  const submittedAt = performance.now();
  await waitFor('the first task', async () => receiver.received.some((r) => r.body.task_id === taskId && r.body.task_status === 'succeed'), 300_000);
  const e2eMs = performance.now() - submittedAt;

  // 1. query-one vs hello-world
  const hello = spawn(process.execPath, [fileURLToPath(new URL('./hello-server.js', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
  const helloUrl = await new Promise<string>((resolve) =>
    hello.stdout!.on('data', (c: Buffer) => {
      const m = /listening on (\S+)/.exec(c.toString());
      if (m) resolve(m[1]);
    }),
  );
  const base = await cannon(helloUrl + '/');
  hello.kill();
  const query = await cannon(`${server.url}/v1/images/editing/expand/${taskId}`, { authorization: `Bearer ${bearer}` });
  if (query.non2xx > 0) throw new Error(`query-one answered ${query.non2xx} non-2xx`);
  say(`query-one:   ${query.requests.average.toFixed(0)} req/s  p50 ${query.latency.p50} ms  p99 ${query.latency.p99} ms`);
  say(`hello-world: ${base.requests.average.toFixed(0)} req/s  p50 ${base.latency.p50} ms  p99 ${base.latency.p99} ms`);
  say(`query-one / hello-world throughput ratio: ${(query.requests.average / base.requests.average).toFixed(2)} (target ≥ 0.5)`);

  // 2. create latency with a 2 MB PNG (engine work queues up behind; measured as clients see it)
  const png = await twoMegabytePng();
  const b64 = png.toString('base64');
  const lat: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    const res = await api(server.url, 'POST', '/v1/images/editing/expand', bearer, { image: b64, up_expansion_ratio: 0.2 });
    lat.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  }
  say(`create with a ${(png.length / 1048576).toFixed(2)} MB PNG: p50 ${median(lat).toFixed(1)} ms, max ${Math.max(...lat).toFixed(1)} ms (target p50 ≤ 100 ms)`);

  // 4. healthz while both cores expand images (the creates above keep the engine busy)
  const health = await cannon(`${server.url}/healthz`, {}, Math.min(seconds, 8));
  say(`healthz under load: p50 ${health.latency.p50} ms  p99 ${health.latency.p99} ms (target p99 ≤ 50 ms)`);

  // 3. overhead beyond the engine: the runner logs the engine's own time for each task.
  const engineMs = await waitFor('the engine time in the log', async () => {
    const m = new RegExp(`"taskId":"${taskId}"[^\\n]*"engineMs":(\\d+)`).exec(server.stdout());
    return m ? Number(m[1]) : null;
  }, 5000);
  say(`submit → succeed callback for 1024×640 n=1: ${e2eMs.toFixed(0)} ms, engine ${engineMs} ms, overhead ${(e2eMs - engineMs).toFixed(0)} ms (target ≤ 300 ms)`);
} finally {
  await stopServer(server, 'SIGKILL');
  await receiver.close();
  await data.cleanup();
}
