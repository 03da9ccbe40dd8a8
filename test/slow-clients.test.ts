/**
 * Slow and abusive clients against the real server process, each cut off or refused within its stated
 * limit while a normal client (on another loopback address, 127.0.0.2) keeps polling a task: slowloris
 * (headers trickled), bodies trickled at 1 byte/s, 10,000 idle connections from one address and 9,000
 * from many, oversized headers and URLs, huge pageSize/pageNum. The normal client's query-one latency
 * during each attack is printed (p50, p99, max) and must stay answered, every time.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { api, createKeys, startServer, stopServer, tempDataDir, token, waitFor, type ServerProcess } from './support/outpaint-process.js';
import { scenePng } from './support/pictures.js';

const EXPAND = '/v1/images/editing/expand';
const HEADERS_TIMEOUT_S = 2;
const REQUEST_TIMEOUT_S = 4;
/** Node checks the timeouts every second: a cut-off comes up to this much after its limit. */
const CHECK_MS = 1500;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

interface Raw {
  socket: net.Socket;
  answer: () => string;
  /** ms from `opened` to the close, once closed. */
  closedAfter: Promise<number>;
  opened: number;
}

/** A raw TCP connection to the server from `localAddress`. */
function connect(base: string, localAddress = '127.0.0.1'): Promise<Raw> {
  const { port } = new URL(base);
  return new Promise((resolve, reject) => {
    const opened = performance.now();
    const socket = net.connect({ host: '127.0.0.1', port: Number(port), localAddress });
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('error', () => undefined);
    const closedAfter = new Promise<number>((r) => socket.once('close', () => r(performance.now() - opened)));
    socket.once('connect', () => resolve({ socket, answer: () => answer, closedAfter, opened }));
    socket.once('error', reject);
  });
}

/** Opens `count` connections, `batch` at a time (the listen backlog is finite). */
async function connectMany(base: string, count: number, addressOf: (i: number) => string, batch = 500): Promise<Raw[]> {
  const all: Raw[] = [];
  for (let i = 0; i < count; i += batch) {
    all.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - i) }, (_, j) => connect(base, addressOf(i + j))))));
  }
  return all;
}

function serverConnections(pid: number): number {
  // Sockets among the server's descriptors.
  return fs.readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:');
    } catch {
      return false;
    }
  }).length;
}

function rssMb(pid: number): number {
  return Math.round(Number(/^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024);
}

describe('slow and abusive clients', { timeout: 240_000 }, () => {
  let server: ServerProcess;
  let bearer: string;
  let taskPath: string;
  let cleanup: () => Promise<void>;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4, localAddress: '127.0.0.2' });

  before(async () => {
    const data = await tempDataDir();
    cleanup = data.cleanup;
    const keys = await createKeys(data.dir);
    server = await startServer({
      OUTPAINT_DATA_DIR: data.dir,
      OUTPAINT_PORT: '0',
      OUTPAINT_WORKERS: '1',
      OUTPAINT_QUALITY: 'fast',
      OUTPAINT_RATE_LIMIT: '1000000',
      OUTPAINT_HEADERS_TIMEOUT_S: String(HEADERS_TIMEOUT_S),
      OUTPAINT_REQUEST_TIMEOUT_S: String(REQUEST_TIMEOUT_S),
    });
    bearer = await token(keys);
    const created = await api(server.url, 'POST', EXPAND, bearer, {
      image: (await scenePng(480, 360, 5)).toString('base64'),
      left_expansion_ratio: 0.5,
    });
    taskPath = `${EXPAND}/${created.body.data.task_id}`;
    await waitFor('the task', async () => (await api(server.url, 'GET', taskPath, bearer)).body.data.task_status === 'succeed');
  });
  after(async () => {
    agent.destroy();
    await stopServer(server, 'SIGKILL');
    await cleanup();
  });

  /** query-one from 127.0.0.2 in a loop while `attack` runs; every answer must be a 200. */
  async function duringAttack(name: string, attack: () => Promise<void>): Promise<{ p99: number }> {
    const latencies: number[] = [];
    const failures: string[] = [];
    let running = true;
    const { port } = new URL(server.url);
    const poll = (): Promise<void> =>
      new Promise((resolve) => {
        const started = performance.now();
        const req = http.get({ host: '127.0.0.1', port, path: taskPath, agent, headers: { authorization: `Bearer ${bearer}` } }, (res) => {
          res.resume();
          res.on('end', () => {
            latencies.push(performance.now() - started);
            if (res.statusCode !== 200) failures.push(`HTTP ${res.statusCode}`);
            resolve();
          });
        });
        req.on('error', (err) => {
          failures.push(err.message);
          resolve();
        });
      });
    const poller = (async () => {
      while (running) {
        await poll();
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    try {
      // Long enough for a p99 even when the attack is quick.
      await Promise.all([attack(), new Promise((r) => setTimeout(r, 2000))]);
    } finally {
      running = false;
      await poller;
    }
    const p99 = percentile(latencies, 99);
    console.log(
      `# ${name}: query-one from 127.0.0.2, ${latencies.length} requests: p50 ${percentile(latencies, 50).toFixed(1)} ms, ` +
        `p99 ${p99.toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms, failures ${failures.length}`,
    );
    assert.deepEqual(failures, [], `${name}: the normal client was not answered`);
    assert.ok(latencies.length >= 20, `${name}: only ${latencies.length} polls`);
    // A loose bound (the machine is shared, and this process drives the attack too); the printed p99 is the figure.
    assert.ok(p99 < 2000, `${name}: query-one p99 ${p99.toFixed(1)} ms`);
    return { p99 };
  }

  it('baseline: no attack', async () => {
    await duringAttack('baseline', () => new Promise((r) => setTimeout(r, 2000)));
  });

  it(`slowloris: 200 connections trickling headers are answered 408 and closed after ${HEADERS_TIMEOUT_S} s`, async () => {
    await duringAttack('slowloris ×200', async () => {
      const conns = await connectMany(server.url, 200, () => '127.0.0.1');
      const timers = conns.map((c) => {
        c.socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\n`);
        return setInterval(() => c.socket.writable && c.socket.write('X-Slow: yes\r\n'), 300);
      });
      const closed = await Promise.all(conns.map((c) => c.closedAfter));
      timers.forEach(clearInterval);
      for (const c of conns) assert.match(c.answer(), /^HTTP\/1\.1 408 .*"code":1200,"message":"the request did not arrive in time"/s);
      assert.ok(Math.min(...closed) >= HEADERS_TIMEOUT_S * 1000 - 100, `closed after ${Math.min(...closed)} ms`);
      assert.ok(Math.max(...closed) <= HEADERS_TIMEOUT_S * 1000 + CHECK_MS, `closed after ${Math.max(...closed)} ms`);
    });
  });

  it(`bodies trickled at 1 byte/s: 50 authenticated creates are answered 408 after ${REQUEST_TIMEOUT_S} s; without a token, 401 at once`, async () => {
    await duringAttack('body at 1 byte/s ×50', async () => {
      const anonymous = await connect(server.url);
      anonymous.socket.write(`POST ${EXPAND} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`);
      const conns = await connectMany(server.url, 50, () => '127.0.0.1');
      const timers = conns.map((c) => {
        c.socket.write(
          `POST ${EXPAND} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${bearer}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`,
        );
        return setInterval(() => c.socket.writable && c.socket.write('"'), 1000);
      });
      await waitFor('the 401', async () => anonymous.answer().includes('\r\n\r\n{'), 2000);
      assert.match(anonymous.answer(), /^HTTP\/1\.1 401 .*"code":1001/s);
      const closed = await Promise.all(conns.map((c) => c.closedAfter));
      timers.forEach(clearInterval);
      anonymous.socket.destroy();
      for (const c of conns) assert.match(c.answer(), /^HTTP\/1\.1 408 /);
      assert.ok(Math.min(...closed) >= REQUEST_TIMEOUT_S * 1000 - 100, `closed after ${Math.min(...closed)} ms`);
      assert.ok(Math.max(...closed) <= REQUEST_TIMEOUT_S * 1000 + CHECK_MS, `closed after ${Math.max(...closed)} ms`);
    });
  });

  it('10,000 idle connections from one address: all but 256 refused 503 at once, the rest closed after the headers timeout', async () => {
    const pid = server.child.pid!;
    await duringAttack('10,000 idle from one address', async () => {
      let peakSockets = 0;
      const sampler = setInterval(() => (peakSockets = Math.max(peakSockets, serverConnections(pid))), 100);
      const conns = await connectMany(server.url, 10_000, () => '127.0.0.1');
      const closed = await Promise.all(conns.map((c) => c.closedAfter));
      clearInterval(sampler);
      const refused = conns.map((c, i) => ({ c, ms: closed[i] })).filter(({ c }) => c.answer().startsWith('HTTP/1.1 503'));
      const held = conns.map((c, i) => ({ c, ms: closed[i] })).filter(({ c }) => c.answer().startsWith('HTTP/1.1 408'));
      console.log(
        `# 10,000 idle from one address: ${refused.length} refused 503 (closed after at most ${Math.round(Math.max(...refused.map((r) => r.ms)))} ms), ` +
          `${held.length} held and answered 408 after ${Math.round(Math.min(...held.map((r) => r.ms)))}–${Math.round(Math.max(...held.map((r) => r.ms)))} ms, server sockets at most ${peakSockets}`,
      );
      // Held ones are cut off after the headers timeout while the rest still connect, and their places
      // are taken again: at most 256 at a time (beside a few sockets of the server's own and the poller).
      assert.ok(held.length >= 250, `${held.length} held`);
      assert.ok(peakSockets <= 256 + 16, `${peakSockets} sockets at once`);
      assert.equal(refused.length + held.length, 10_000);
      assert.match(refused[0].c.answer(), /"code":5001,"message":"too many connections from one address \(at most 256\); close some and retry"/);
      // Refused as soon as accepted (what the answer says); accepting 10,000 at once lags on a loaded machine.
      assert.ok(Math.max(...refused.map((r) => r.ms)) < 5000);
      assert.ok(Math.min(...held.map((r) => r.ms)) >= HEADERS_TIMEOUT_S * 1000 - 100);
    });
  });

  it('9,000 idle connections from 36 addresses: none refused, each answered 408 and closed after the headers timeout', async () => {
    const pid = server.child.pid!;
    const rssBefore = rssMb(pid);
    await duringAttack('9,000 idle from 36 addresses', async () => {
      let peakSockets = 0;
      let peakRss = rssBefore;
      const sampler = setInterval(() => {
        peakSockets = Math.max(peakSockets, serverConnections(pid));
        peakRss = Math.max(peakRss, rssMb(pid));
      }, 200);
      const conns = await connectMany(server.url, 9_000, (i) => `127.0.1.${1 + (i % 36)}`);
      const closed = await Promise.all(conns.map((c) => c.closedAfter));
      clearInterval(sampler);
      console.log(`# 9,000 idle from 36 addresses: server sockets at most ${peakSockets}, RSS ${rssBefore} → at most ${peakRss} MB`);
      const answers = new Set(conns.map((c) => c.answer().split('\r\n')[0]));
      assert.deepEqual([...answers], ['HTTP/1.1 408 Request Timeout']);
      assert.ok(Math.min(...closed) >= HEADERS_TIMEOUT_S * 1000 - 100, `first closed after ${Math.min(...closed)} ms`);
    });
  });

  it('oversized headers and URLs are refused 431 at once; huge pageSize and pageNum 1201', async () => {
    await duringAttack('oversized headers, huge pages', async () => {
      for (let i = 0; i < 20; i++) {
        const big = await connect(server.url);
        big.socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
        const longUrl = await connect(server.url);
        longUrl.socket.write(`GET ${EXPAND}/${'b'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
        for (const c of [big, longUrl]) {
          assert.ok((await c.closedAfter) < 1000);
          assert.match(c.answer(), /^HTTP\/1\.1 431 .*"code":1200,"message":"the request headers are too large"/s);
        }
      }
      for (const query of ['pageSize=1000000000', 'pageNum=99999999', 'pageSize=501', 'pageSize=1e9']) {
        const res = await api(server.url, 'GET', `${EXPAND}?${query}`, bearer);
        assert.deepEqual([res.status, res.body.code], [400, 1201], query);
        assert.match(res.body.message, /^page(Size|Num): /);
      }
      const full = await api(server.url, 'GET', `${EXPAND}?pageSize=500`, bearer);
      assert.equal(full.status, 200);
    });
  });
});
