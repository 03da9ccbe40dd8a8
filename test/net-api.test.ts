/** The SSRF guard as a client sees it: image URLs that reach private addresses are refused with 1201. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Resolver } from '../src/net/safe-http.js';
import { call, startApi, type Account, type TestApi } from './support/http.js';
import { makeGif, makePng } from './support/images.js';

const EXPAND = '/v1/images/editing/expand';

let images: http.Server;
let port: number;
let png: Buffer;
let gif: Buffer;

before(async () => {
  png = await makePng();
  gif = await makeGif();
  images = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/a.png') res.writeHead(200, { 'content-type': 'image/png' }).end(png);
    else if (url.pathname === '/a.gif') res.writeHead(200, { 'content-type': 'image/png' }).end(gif);
    else if (url.pathname === '/named.gif') res.writeHead(200, { 'content-type': 'image/gif' }).end(png);
    else if (url.pathname === '/redirect') res.writeHead(302, { location: url.searchParams.get('to') ?? '/a.png' }).end();
    else if (url.pathname === '/huge') res.writeHead(200, { 'content-length': String(11 * 1024 * 1024) }).end();
    else if (url.pathname === '/huge-chunked') streamChunked(res, 11 * 1024 * 1024, 64 * 1024, 1);
    else if (url.pathname === '/dribble') streamChunked(res, png.length, 16, 50, png); // 16 bytes every 50 ms
    else if (url.pathname === '/silent') res.flushHeaders(); // headers, then nothing
    else if (url.pathname === '/loop') res.writeHead(302, { location: '/loop' }).end();
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
  port = (images.address() as AddressInfo).port;
});
after(() => {
  images.closeAllConnections();
  images.close();
});

/** Sends `total` bytes (of `data`, else zeros) in chunks of `size` every `everyMs`, without a Content-Length. */
function streamChunked(res: http.ServerResponse, total: number, size: number, everyMs: number, data?: Buffer): void {
  res.writeHead(200, { 'content-type': 'image/png' });
  let sent = 0;
  const tick = setInterval(() => {
    if (res.destroyed || sent >= total) {
      clearInterval(tick);
      res.end();
      return;
    }
    res.write(data ? data.subarray(sent, sent + size) : Buffer.alloc(size));
    sent += size;
  }, everyMs);
  res.on('close', () => clearInterval(tick));
}

/**
 * A port whose connections never complete: a process listening with a backlog of 1 that never accepts
 * (its only thread sleeps). Once two connections fill the queue, the kernel drops further SYNs, so a new
 * connect hangs until the client gives up: a real TCP connect timeout on loopback.
 */
async function unansweredPort(): Promise<{ port: number; close(): void }> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const s = require('node:net').createServer();
       s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
         process.stdout.write(s.address().port + '\\n');
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
       });`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = Number(await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()))));
  // Fill the accept queue: on Linux it holds backlog + 1 = 2 connections; the next SYN is dropped.
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 2; i++) {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.on('error', () => undefined);
    fillers.push(s);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000); // a shorter queue: already full
      s.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  return {
    port,
    close() {
      for (const s of fillers) s.destroy();
      child.kill('SIGKILL');
    },
  };
}

const resolver: Resolver = async (host) => {
  if (host === 'loopback.test' || host === 'images.public.test') return [{ address: '127.0.0.1', family: 4 }];
  if (host === 'private.test') return [{ address: '10.0.0.5', family: 4 }];
  throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
};

async function expand(api: TestApi, account: Account, image: string) {
  return call(api.url, 'POST', EXPAND, { token: await account.token(), body: { image, up_expansion_ratio: 0.5 } });
}

describe('image URLs through the API, default (deny private)', () => {
  let api: TestApi;
  let account: Account;
  before(async () => {
    api = await startApi({ resolver });
    account = await api.newAccount();
  });
  after(() => api.close());

  for (const [name, url] of [
    ['127.0.0.1', () => `http://127.0.0.1:${port}/a.png`],
    ['[::1]', () => `http://[::1]:${port}/a.png`],
    ['[::ffff:127.0.0.1]', () => `http://[::ffff:127.0.0.1]:${port}/a.png`],
    ['169.254.169.254', () => 'http://169.254.169.254/latest/meta-data/'],
    ['a name resolving to loopback', () => `http://loopback.test:${port}/a.png`],
  ] as const) {
    it(`refuses ${name} with 1201`, async () => {
      const res = await expand(api, account, url());
      assert.deepEqual([res.status, res.body.code], [400, 1201], JSON.stringify(res.body));
      assert.match(res.body.message, /^image: URL refused: .*(loopback|link-local)/);
    });
  }
});

describe('image URLs through the API, with an allow-list', () => {
  it('refuses an allowed host that redirects to loopback', async () => {
    const api = await startApi({ resolver, env: { OUTPAINT_ALLOW_PRIVATE_HOSTS: 'images.public.test' } });
    try {
      const account = await api.newAccount();
      const ok = await expand(api, account, `http://images.public.test:${port}/a.png`);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      const to = encodeURIComponent(`http://127.0.0.1:${port}/a.png`);
      const res = await expand(api, account, `http://images.public.test:${port}/redirect?to=${to}`);
      assert.deepEqual([res.status, res.body.code], [400, 1201]);
      assert.match(res.body.message, /^image: URL refused: 127\.0\.0\.1 is a loopback address/);
    } finally {
      await api.close();
    }
  });

  it('downloads from allow-listed loopback, and judges what it gets', async () => {
    const api = await startApi({ resolver, env: { OUTPAINT_ALLOW_PRIVATE_HOSTS: '127.0.0.0/8' } });
    try {
      const account = await api.newAccount();
      const ok = await expand(api, account, `http://127.0.0.1:${port}/a.png`);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      const task = await api.storage.tasks.get(account.key.accountId, ok.body.data.task_id);
      assert.deepEqual([task?.inputWidth, task?.inputHeight], [400, 300]);
      // Judged by content, not by name or Content-Type: a PNG called .gif and served as image/gif is fine.
      const named = await expand(api, account, `http://127.0.0.1:${port}/named.gif`);
      assert.equal(named.status, 200, JSON.stringify(named.body));

      const cases: [string, RegExp][] = [
        [`http://127.0.0.1:${port}/a.gif`, /^image: GIF is not supported/],
        [`http://127.0.0.1:${port}/missing.png`, /^image: could not be downloaded: answered HTTP 404/],
        [`http://127.0.0.1:${port}/huge`, /^image: download exceeds the maximum of 10 MB/],
        [`http://127.0.0.1:1/a.png`, /^image: could not be downloaded/],
      ];
      for (const [url, message] of cases) {
        const res = await expand(api, account, url);
        assert.equal(res.body.code, 1201, url);
        assert.match(res.body.message, message);
      }
    } finally {
      await api.close();
    }
  });
});

describe('image URLs through the API: time and size limits', () => {
  let api: TestApi;
  let account: Account;
  before(async () => {
    api = await startApi({
      resolver,
      env: {
        OUTPAINT_ALLOW_PRIVATE_HOSTS: '127.0.0.1',
        OUTPAINT_FETCH_TIMEOUT_MS: '800',
      },
    });
    account = await api.newAccount();
  });
  after(() => api.close());

  const refusedWithin = async (url: string, message: RegExp, maxMs: number) => {
    const started = performance.now();
    const res = await expand(api, account, url);
    const ms = performance.now() - started;
    assert.deepEqual([res.status, res.body.code], [400, 1201], JSON.stringify(res.body));
    assert.match(res.body.message, message);
    assert.ok(ms < maxMs, `answered after ${Math.round(ms)} ms`);
    return ms;
  };

  it('gives up connecting after OUTPAINT_FETCH_CONNECT_TIMEOUT_MS, well before the total timeout', async () => {
    // undici's connect timer ticks every half second, so the two limits are set far apart.
    const patient = await startApi({
      resolver,
      env: { OUTPAINT_ALLOW_PRIVATE_HOSTS: '127.0.0.1', OUTPAINT_FETCH_CONNECT_TIMEOUT_MS: '300', OUTPAINT_FETCH_TIMEOUT_MS: '10000' },
    });
    const target = await unansweredPort();
    try {
      const started = performance.now();
      const res = await expand(patient, await patient.newAccount(), `http://127.0.0.1:${target.port}/a.png`);
      const ms = performance.now() - started;
      assert.deepEqual([res.body.code, res.body.message], [1201, 'image: could not be downloaded: connect timed out']);
      assert.ok(ms >= 250 && ms < 5000, `gave up after ${Math.round(ms)} ms`);
    } finally {
      target.close();
      await patient.close();
    }
  });

  it('gives up on a body that trickles in after OUTPAINT_FETCH_TIMEOUT_MS in all', async () => {
    // Each chunk comes well within any idle timeout; only the total deadline stops it (the whole takes minutes).
    const ms = await refusedWithin(`http://127.0.0.1:${port}/dribble`, /^image: could not be downloaded: timed out after 800 ms$/, 3000);
    assert.ok(ms >= 750, `gave up after ${Math.round(ms)} ms`);
  });

  it('gives up on a server that sends headers and then nothing', async () => {
    await refusedWithin(`http://127.0.0.1:${port}/silent`, /^image: could not be downloaded: timed out after 800 ms$/, 3000);
  });

  it('stops reading a body without Content-Length as soon as it passes 10 MB', async () => {
    await refusedWithin(`http://127.0.0.1:${port}/huge-chunked`, /^image: download exceeds the maximum of 10 MB$/, 5000);
  });

  it('judges every redirect hop again: names, IP literals, metadata, schemes, and counts them', async () => {
    const hop = (to: string) => `http://127.0.0.1:${port}/redirect?to=${encodeURIComponent(to)}`;
    const cases: [string, RegExp][] = [
      [hop(`http://private.test:${port}/a.png`), /^image: URL refused: private\.test resolves to a private address$/],
      [hop('http://169.254.169.254/latest/meta-data/'), /^image: URL refused: 169\.254\.169\.254 is a link-local address$/],
      [hop('http://[::ffff:10.0.0.1]/a.png'), /^image: URL refused: ::ffff:a00:1 is a private address$/],
      [hop('http://10.1.2.3/a.png'), /^image: URL refused: 10\.1\.2\.3 is a private address$/],
      [hop('file:///etc/passwd'), /^image: URL scheme file is not supported; use http or https$/],
      [`http://127.0.0.1:${port}/loop`, /^image: could not be downloaded: more than 5 redirects$/],
    ];
    for (const [url, message] of cases) {
      const res = await expand(api, account, url);
      assert.equal(res.body.code, 1201, url);
      assert.match(res.body.message, message, url);
    }
    // A redirect to an allowed place is followed.
    assert.equal((await expand(api, account, hop(`http://127.0.0.1:${port}/a.png`))).status, 200);
  });
});
