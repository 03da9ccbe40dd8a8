/**
 * OUTPAINT_TRUST_PROXY: the client IP the unauthenticated rate limit counts comes from X-Forwarded-For
 * only when the connection comes from a trusted proxy; from anyone else the header is ignored (else any
 * client could pick a fresh IP per request). Through real HTTP against the API on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../src/config.js';
import { call, startApi, type TestApi } from './support/http.js';

const EXPAND = '/v1/images/editing/expand';

/** An unauthenticated request (401, counted against the client IP) as if forwarded for `client`. */
async function asForwardedFor(api: TestApi, client: string | null): Promise<number> {
  const res = await call(api.url, 'GET', EXPAND, { headers: client ? { 'x-forwarded-for': client } : {} });
  return res.body.code;
}

describe('X-Forwarded-For and the per-IP rate limit', () => {
  const apis: TestApi[] = [];
  after(async () => Promise.all(apis.map((a) => a.close())));

  it('from a trusted proxy, each forwarded client has its own count', async () => {
    const api = await startApi({ env: { OUTPAINT_RATE_LIMIT: '2', OUTPAINT_TRUST_PROXY: '127.0.0.1' } });
    apis.push(api);
    assert.deepEqual([await asForwardedFor(api, '203.0.113.7'), await asForwardedFor(api, '203.0.113.7')], [1001, 1001]);
    assert.equal(await asForwardedFor(api, '203.0.113.7'), 1302, 'the third request of that client is over the limit');
    assert.equal(await asForwardedFor(api, '198.51.100.9'), 1001, 'another client behind the proxy is not');
    // Behind a chain, the address the trusted proxy saw (the rightmost untrusted one) counts, not a spoofed first one.
    assert.equal(await asForwardedFor(api, '203.0.113.7, 192.0.2.50'), 1001);
  });

  it('from an address that is not a trusted proxy, the header is ignored', async () => {
    const api = await startApi({ env: { OUTPAINT_RATE_LIMIT: '2', OUTPAINT_TRUST_PROXY: '10.0.0.0/8' } });
    apis.push(api);
    assert.deepEqual([await asForwardedFor(api, '203.0.113.1'), await asForwardedFor(api, '203.0.113.2')], [1001, 1001]);
    assert.equal(await asForwardedFor(api, '203.0.113.3'), 1302, 'all three counted against 127.0.0.1');
  });

  it('by default no proxy is trusted', async () => {
    const api = await startApi({ env: { OUTPAINT_RATE_LIMIT: '2' } });
    apis.push(api);
    await asForwardedFor(api, '203.0.113.1');
    await asForwardedFor(api, '203.0.113.2');
    assert.equal(await asForwardedFor(api, null), 1302);
  });

  it('a setting that is neither an IP, a CIDR nor a named range is refused, naming it', () => {
    assert.throws(() => loadConfig({ OUTPAINT_TRUST_PROXY: '127.0.0.1, proxy.local' }), /OUTPAINT_TRUST_PROXY: "proxy.local" is not an IP address, a CIDR or one of loopback/);
    assert.deepEqual(loadConfig({ OUTPAINT_TRUST_PROXY: 'loopback, 10.0.0.0/8, ::1' }).trustProxy, ['loopback', '10.0.0.0/8', '::1']);
  });
});
