/** The SSRF guard as a client sees it: image URLs that reach private addresses are refused with 1201. */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
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
    else if (url.pathname === '/redirect') res.writeHead(302, { location: url.searchParams.get('to') ?? '/a.png' }).end();
    else if (url.pathname === '/huge') res.writeHead(200, { 'content-length': String(11 * 1024 * 1024) }).end();
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
  port = (images.address() as AddressInfo).port;
});
after(() => {
  images.closeAllConnections();
  images.close();
});

const resolver: Resolver = async (host) => {
  if (host === 'loopback.test' || host === 'images.public.test') return [{ address: '127.0.0.1', family: 4 }];
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
