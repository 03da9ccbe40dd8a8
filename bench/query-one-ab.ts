/**
 * Query-one throughput of two or more servers side by side, in alternating rounds on the same machine:
 * for "is it unchanged after this refactor" (a snapshot of the old build against the new one) and "what
 * does this backend cost" (the same build with other settings).
 *
 * Usage: npm run build && node dist/bench/query-one-ab.js [--seconds 24] [--rounds 4] LABEL=CHECKOUT[@ENV=V,ENV=V] ...
 *   CHECKOUT is a directory holding dist/ and node_modules (a checkout, or a snapshot of one); "." is this one.
 *   e.g. node dist/bench/query-one-ab.js before=/tmp/snap-before after=.
 *   BENCH_TTY=1 in a target's ENV runs that server on a pseudo-terminal (util-linux script(1)), so that it
 *   logs pretty lines: node dist/bench/query-one-ab.js pipe=.@OUTPAINT_LOG_LEVEL=info tty=.@OUTPAINT_LOG_LEVEL=info,BENCH_TTY=1
 * Each server gets its own data directory and key, one finished task (a small expansion), then wrk with
 * 16 connections asks for that task over and over. Prints req/s, p99 and the event loop's CPU time per
 * request per server (medians over rounds)
 * and each server's ratio to the first. Needs wrk (apt-get install -y wrk).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { signToken } from '../test/support/jwt.js';
import { scene } from '../test/support/pictures.js';
import { tempDir } from '../test/support/tmp.js';

const run = promisify(execFile);
const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(args.splice(i, 2)[1]);
  if (!(v > 0)) throw new Error(`${name} needs a positive number`);
  return v;
};
const seconds = option('--seconds', 24);
const rounds = option('--rounds', 4);
if (args.length < 1) {
  process.stderr.write('usage: query-one-ab.js [--seconds S] [--rounds R] LABEL=CHECKOUT[@ENV=V,…] …\n');
  process.exit(2);
}

interface Target {
  label: string;
  cli: string;
  env: Record<string, string>;
}

const targets: Target[] = args.map((arg) => {
  const m = /^([^=]+)=([^@]+)(?:@(.*))?$/.exec(arg);
  if (!m) throw new Error(`expected LABEL=CHECKOUT[@ENV=V,…], got ${arg}`);
  // A value may hold '=' itself (a URL's query): split each pair at its first one.
  const env = Object.fromEntries((m[3] ?? '').split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  return { label: m[1], cli: path.resolve(m[2], 'dist/src/cli/main.js'), env };
});

interface Running {
  target: Target;
  child: ChildProcess;
  serverPid: number;
  url: string;
  taskUrl: string;
  bearer: string;
  cleanup: () => Promise<void>;
}

async function start(target: Target): Promise<Running> {
  const dir = await tempDir('outpaint-ab-');
  const env = { ...process.env, OUTPAINT_DATA_DIR: dir.path, OUTPAINT_LOG_LEVEL: 'warn', ...target.env };
  const { stdout } = await run(process.execPath, [target.cli, 'keys', 'create', '--name', 'bench', '--json'], { env });
  const keys = JSON.parse(stdout) as { access_key: string; secret_key: string };
  const serveEnv = { ...env, OUTPAINT_HOST: '127.0.0.1', OUTPAINT_PORT: '0', OUTPAINT_RATE_LIMIT: '100000000' };
  const onTty = target.env.BENCH_TTY === '1';
  // On a terminal, script(1) execs the server (`exec`, so its only child is the server) and relays what
  // it draws to our pipe; the terminal's output is read and dropped like a person's scrollback.
  const child = onTty
    ? spawn('script', ['-qfec', `exec ${process.execPath} ${target.cli} serve`, '/dev/null'], { env: serveEnv, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, [target.cli, 'serve'], { env: serveEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const read = (c: Buffer) => {
      out += c.toString();
      const m = /listening on (https?:\/\/[^\s\x1b]+)/.exec(out);
      if (m) resolve(m[1]);
    };
    child.stdout?.on('data', read);
    child.stderr!.on('data', read);
    child.once('exit', (code) => reject(new Error(`${target.label} exited (${code}):\n${out}`)));
  });
  // The process whose event loop is measured: the server itself, script's only child on a terminal.
  const serverPid = onTty ? Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ')[0]) : child.pid!;
  const bearer = await signToken(keys.access_key, keys.secret_key, { expIn: 24 * 3600 });
  const png = await sharp(scene(320, 320), { raw: { width: 320, height: 320, channels: 3 } }).png().toBuffer();
  const created = await fetch(`${url}/v1/images/editing/expand`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: JSON.stringify({ image: png.toString('base64'), right_expansion_ratio: 0.25 }),
  }).then((r) => r.json() as Promise<{ data: { task_id: string } }>);
  const taskUrl = `${url}/v1/images/editing/expand/${created.data.task_id}`;
  for (let i = 0; ; i++) {
    const task = await fetch(taskUrl, { headers: { authorization: `Bearer ${bearer}` } }).then((r) => r.json() as Promise<{ data: { task_status: string } }>);
    if (task.data.task_status === 'succeed') break;
    if (task.data.task_status === 'failed' || i > 600) throw new Error(`${target.label}: the task did not succeed`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    target,
    child,
    serverPid,
    url,
    taskUrl,
    bearer,
    cleanup: async () => {
      if (serverPid !== child.pid) process.kill(serverPid, 'SIGKILL');
      child.kill('SIGKILL');
      await dir.remove();
    },
  };
}

/** CPU seconds used so far by a process's main thread (the event loop), from /proc. */
function mainThreadCpu(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 10 ms
}

/** wrk against one server; `cpuUs` is its event loop's CPU per request, which other load disturbs less. */
function wrk(pid: number, url: string, bearer: string, duration: number): { rps: number; p99: number; cpuUs: number } {
  const cpu0 = mainThreadCpu(pid);
  const out = execFileSync('wrk', ['-t1', '-c16', `-d${duration}s`, '--latency', '-H', `authorization: Bearer ${bearer}`, url], { encoding: 'utf8' });
  if (/Non-2xx/.test(out)) throw new Error(`non-2xx answers from ${url}:\n${out}`);
  const p = /99%\s+([\d.]+)(us|ms|s)/.exec(out)!;
  const p99 = Number(p[1]) * (p[2] === 'us' ? 0.001 : p[2] === 's' ? 1000 : 1);
  const requests = Number(/(\d+) requests in/.exec(out)![1]);
  const cpuUs = ((mainThreadCpu(pid) - cpu0) / requests) * 1e6;
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)![1]), p99, cpuUs };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const running: Running[] = [];
try {
  for (const t of targets) running.push(await start(t));
  const per = Math.max(2, Math.round(seconds / rounds / targets.length));
  const results = running.map(() => ({ rps: [] as number[], p99: [] as number[], cpuUs: [] as number[] }));
  for (let r = 0; r < rounds; r++) {
    // Alternate the order too, so that neither server always runs right after the other's load.
    const order = r % 2 === 0 ? running.map((_, i) => i) : running.map((_, i) => running.length - 1 - i);
    for (const i of order) {
      const { rps, p99, cpuUs } = wrk(running[i].serverPid, running[i].taskUrl, running[i].bearer, per);
      results[i].rps.push(rps);
      results[i].p99.push(p99);
      results[i].cpuUs.push(cpuUs);
    }
  }
  const base = median(results[0].rps);
  const baseCpu = median(results[0].cpuUs);
  process.stdout.write(`query-one, ${rounds} alternating rounds of ${per} s each, wrk -c16, load ${execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).split(' ').slice(0, 3).join(' ')}\n`);
  running.forEach((s, i) => {
    const rps = median(results[i].rps);
    process.stdout.write(
      `  ${s.target.label.padEnd(12)} ${rps.toFixed(0).padStart(7)} req/s (rounds: ${results[i].rps.map((v) => v.toFixed(0)).join(', ')})  ` +
        `p99 ${median(results[i].p99).toFixed(2)} ms  event loop ${median(results[i].cpuUs).toFixed(1)} µs/request  ` +
        `ratio to ${running[0].target.label}: ${(rps / base).toFixed(2)} by req/s, ${(baseCpu / median(results[i].cpuUs)).toFixed(2)} by CPU\n`,
    );
  });
} finally {
  for (const s of running) await s.cleanup();
}
