import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createAddressPolicy } from '../src/net/address-policy.js';
import { createSafeHttp, OutboundRequestError, type Resolver } from '../src/net/safe-http.js';

/** A local server whose routes the tests script. */
let server: http.Server;
let port: number;
const posts: string[] = [];

before(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST') {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        posts.push(body);
        if (url.pathname === '/redirect') {
          res.writeHead(302, { location: '/ok' }).end();
        } else res.writeHead(204).end();
      });
      return;
    }
    switch (url.pathname) {
      case '/ok':
        res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from('hello'));
        break;
      case '/redirect': // to the URL given in ?to=
        res.writeHead(302, { location: url.searchParams.get('to') ?? '/ok' }).end();
        break;
      case '/loop':
        res.writeHead(302, { location: '/loop' }).end();
        break;
      case '/declared-big':
        res.writeHead(200, { 'content-length': String(2000) }).end(Buffer.alloc(2000));
        break;
      case '/chunked-big': {
        res.writeHead(200, { 'transfer-encoding': 'chunked' });
        let sent = 0;
        const tick = setInterval(() => {
          if (res.destroyed || sent > 1_000_000) {
            clearInterval(tick);
            res.end();
            return;
          }
          res.write(Buffer.alloc(100));
          sent += 100;
        }, 1);
        break;
      }
      case '/slow':
        setTimeout(() => res.writeHead(200).end('late'), 2000).unref();
        break;
      case '/404':
        res.writeHead(404).end();
        break;
      default:
        res.writeHead(500).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

/** Names the tests use: *.public.test pretend to be public; loopback.test resolves to 127.0.0.1. */
const resolver: Resolver = async (host) => {
  if (host === 'loopback.test') return [{ address: '127.0.0.1', family: 4 }];
  if (host === 'mixed.test') return [{ address: '93.184.216.34', family: 4 }, { address: '::1', family: 6 }];
  if (host === 'metadata.test') return [{ address: '169.254.169.254', family: 4 }];
  if (host === 'images.public.test') return [{ address: '127.0.0.1', family: 4 }];
  throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
};

async function refusal(promise: Promise<unknown>): Promise<OutboundRequestError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof OutboundRequestError, `expected OutboundRequestError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a refusal');
}

const limits = { timeoutMs: 1000, maxBytes: 1000 };

describe('address policy', () => {
  const policy = createAddressPolicy([]);
  const refused = [
    '127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::127.0.0.1', '64:ff9b::7f00:1',
    '64:ff9b::a00:1', '2002:7f00:1::', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254',
    'fe80::1', '100.64.0.1', '100.127.255.254', 'fc00::1', 'fd12:3456::1', '0.0.0.0', '::',
    '224.0.0.1', 'ff02::1', '255.255.255.255', '::ffff:169.254.169.254', '::ffff:10.1.2.3', '240.0.0.1',
  ];
  for (const ip of refused) {
    it(`refuses ${ip}`, () => assert.notEqual(policy.refusal(ip), null));
  }
  for (const ip of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808', '100.128.0.1']) {
    it(`allows public ${ip}`, () => assert.equal(policy.refusal(ip), null));
  }
  it('names the range in the reason', () => {
    assert.equal(policy.refusal('127.0.0.1'), 'a loopback address');
    assert.equal(policy.refusal('169.254.169.254'), 'a link-local address');
    assert.equal(policy.refusal('100.64.0.1'), 'a carrier-grade NAT address');
  });
  it('opens exceptions for listed IPs, CIDRs and hosts only', () => {
    const p = createAddressPolicy(['127.0.0.1', '10.0.0.0/8', 'fd00::/8', 'Internal.Example']);
    assert.equal(p.refusal('127.0.0.1'), null);
    assert.equal(p.refusal('::ffff:127.0.0.1'), null);
    assert.notEqual(p.refusal('127.0.0.2'), null);
    assert.equal(p.refusal('10.9.8.7'), null);
    assert.equal(p.refusal('fd00::5'), null);
    assert.notEqual(p.refusal('192.168.0.1'), null);
    assert.equal(p.hostAllowed('internal.example'), true);
    assert.equal(p.hostAllowed('other.example'), false);
  });
});

describe('safe HTTP client', () => {
  const guarded = createSafeHttp({ allow: [], connectTimeoutMs: 1000, resolver });
  after(() => guarded.close());

  for (const host of ['127.0.0.1', '[::1]', '[::ffff:127.0.0.1]', '169.254.169.254', '[::ffff:a9fe:a9fe]', '0.0.0.0', '2130706433']) {
    it(`refuses http://${host}/ before connecting`, async () => {
      const err = await refusal(guarded.fetchImage(`http://${host}:${port}/ok`, limits));
      assert.equal(err.reason, 'blocked');
    });
  }

  it('refuses a name that resolves to loopback', async () => {
    const err = await refusal(guarded.fetchImage(`http://loopback.test:${port}/ok`, limits));
    assert.equal(err.reason, 'blocked');
    assert.match(err.message, /loopback\.test resolves to a loopback address/);
  });

  it('refuses a name when any of its answers is private', async () => {
    const err = await refusal(guarded.fetchImage(`http://mixed.test:${port}/ok`, limits));
    assert.equal(err.reason, 'blocked');
  });

  it('refuses a name that resolves to the metadata address', async () => {
    const err = await refusal(guarded.fetchImage(`http://metadata.test/latest/meta-data`, limits));
    assert.equal(err.reason, 'blocked');
    assert.match(err.message, /link-local/);
  });

  it('refuses schemes other than http and https', async () => {
    for (const url of ['file:///etc/passwd', 'ftp://example.com/a.png', 'gopher://x/', 'data:image/png;base64,AAAA']) {
      const err = await refusal(guarded.fetchImage(url, limits));
      assert.equal(err.reason, 'bad_url', url);
    }
  });

  it('refuses a callback to loopback, by IP literal or by a name that resolves there, sending nothing', async () => {
    posts.length = 0;
    for (const url of [`http://127.0.0.1:${port}/hook`, `http://loopback.test:${port}/hook`, 'http://metadata.test/hook']) {
      const err = await refusal(guarded.post(url, {}, '{}', { timeoutMs: 1000 }));
      assert.equal(err.reason, 'blocked', url);
    }
    assert.deepEqual(posts, []);
  });
});

describe('safe HTTP client with an allow-list', () => {
  // images.public.test is allowed by name (it resolves to loopback in these tests) but 127.0.0.1 is not.
  const byName = createSafeHttp({ allow: ['images.public.test'], connectTimeoutMs: 1000, resolver });
  const loopback = createSafeHttp({ allow: ['127.0.0.1'], connectTimeoutMs: 1000, resolver });
  after(async () => {
    await byName.close();
    await loopback.close();
  });

  it('reaches allow-listed loopback', async () => {
    const body = await loopback.fetchImage(`http://127.0.0.1:${port}/ok`, limits);
    assert.equal(body.toString(), 'hello');
  });

  it('reaches an allow-listed name', async () => {
    const body = await byName.fetchImage(`http://images.public.test:${port}/ok`, limits);
    assert.equal(body.toString(), 'hello');
  });

  it('refuses a redirect from an allowed host to loopback', async () => {
    const to = encodeURIComponent(`http://127.0.0.1:${port}/ok`);
    const err = await refusal(byName.fetchImage(`http://images.public.test:${port}/redirect?to=${to}`, limits));
    assert.equal(err.reason, 'blocked');
  });

  it('follows a relative redirect on an allowed host', async () => {
    const body = await loopback.fetchImage(`http://127.0.0.1:${port}/redirect?to=/ok`, limits);
    assert.equal(body.toString(), 'hello');
  });

  it('gives up after 5 redirects', async () => {
    const err = await refusal(loopback.fetchImage(`http://127.0.0.1:${port}/loop`, limits));
    assert.equal(err.reason, 'too_many_redirects');
  });

  it('refuses a body whose Content-Length exceeds the cap', async () => {
    const err = await refusal(loopback.fetchImage(`http://127.0.0.1:${port}/declared-big`, limits));
    assert.equal(err.reason, 'too_large');
  });

  it('aborts a chunked body as soon as it exceeds the cap', async () => {
    const started = Date.now();
    const err = await refusal(loopback.fetchImage(`http://127.0.0.1:${port}/chunked-big`, { timeoutMs: 5000, maxBytes: 1000 }));
    assert.equal(err.reason, 'too_large');
    assert.ok(Date.now() - started < 2000);
  });

  it('times out a slow server', async () => {
    const err = await refusal(loopback.fetchImage(`http://127.0.0.1:${port}/slow`, { timeoutMs: 200, maxBytes: 1000 }));
    assert.equal(err.reason, 'timeout');
  });

  it('reports a non-2xx answer', async () => {
    const err = await refusal(loopback.fetchImage(`http://127.0.0.1:${port}/404`, limits));
    assert.equal(err.reason, 'http_status');
    assert.equal(err.status, 404);
  });

  it('posts without following redirects and returns the status', async () => {
    posts.length = 0;
    assert.deepEqual(await loopback.post(`http://127.0.0.1:${port}/hook`, { 'content-type': 'application/json' }, '{"a":1}', { timeoutMs: 1000 }), { status: 204 });
    assert.deepEqual(await loopback.post(`http://127.0.0.1:${port}/redirect`, {}, '{"b":2}', { timeoutMs: 1000 }), { status: 302 });
    assert.deepEqual(posts, ['{"a":1}', '{"b":2}']);
  });

  it('reports a closed port as a network failure', async () => {
    const err = await refusal(loopback.post('http://127.0.0.1:1/hook', {}, '{}', { timeoutMs: 1000 }));
    assert.equal(err.reason, 'network');
  });
});
