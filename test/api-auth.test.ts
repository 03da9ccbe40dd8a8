import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAuthenticator } from '../src/accounts/authenticator.js';
import { newApiKey } from '../src/accounts/keys.js';
import type { ApiKeyRecord } from '../src/accounts/model.js';
import { ApiError } from '../src/contract/errors.js';
import { LruCache } from '../src/util/lru.js';
import { call, startApi, type Account, type TestApi } from './support/http.js';
import { signToken, unsignedToken } from './support/jwt.js';

const LIST = '/v1/images/editing/expand';

describe('authentication over HTTP', () => {
  let api: TestApi;
  let account: Account;
  before(async () => {
    api = await startApi({ env: { OUTPAINT_TOKEN_SKEW_S: '10' } });
    account = await api.newAccount();
  });
  after(() => api.close());

  const expectCode = async (headers: Record<string, string>, code: number, message?: RegExp) => {
    const res = await call(api.url, 'GET', LIST, { headers });
    assert.equal(res.status, 401, JSON.stringify(res.body));
    assert.equal(res.body.code, code, res.body.message);
    assert.equal(res.body.data, undefined);
    if (message) assert.match(res.body.message, message);
  };

  it('accepts a valid JWT', async () => {
    const res = await call(api.url, 'GET', LIST, { token: await account.token() });
    assert.equal(res.status, 200);
    assert.equal(res.body.code, 0);
    assert.equal(res.body.message, 'SUCCEED');
  });

  it('accepts the secret key itself as the bearer (plain API key)', async () => {
    const res = await call(api.url, 'GET', LIST, { token: account.key.secretKey });
    assert.equal(res.status, 200);
  });

  it('1001 when the header is missing or empty', async () => {
    await expectCode({}, 1001);
    await expectCode({ authorization: '' }, 1001);
    await expectCode({ authorization: 'Bearer ' }, 1001);
    await expectCode({ authorization: '   ' }, 1001);
  });

  it('1002 for a header that is not a bearer token', async () => {
    await expectCode({ authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }, 1002, /Bearer/);
    await expectCode({ authorization: 'Bearer a b' }, 1002);
    await expectCode({ authorization: 'Bearer !!!' }, 1002);
  });

  it('1002 for a token signed with the wrong secret', async () => {
    const token = await signToken(account.key.accessKey, 'not-the-secret-key-0123456789abcd');
    await expectCode({ authorization: `Bearer ${token}` }, 1002, /signature/);
  });

  it('1002 for an unknown access key or an unknown plain key', async () => {
    await expectCode({ authorization: `Bearer ${await signToken('A'.repeat(32), account.key.secretKey)}` }, 1002);
    await expectCode({ authorization: `Bearer ${'x'.repeat(32)}` }, 1002);
  });

  it('1002 for alg none or another HMAC than HS256', async () => {
    await expectCode({ authorization: `Bearer ${unsignedToken(account.key.accessKey)}` }, 1002);
    const hs384 = await signToken(account.key.accessKey, account.key.secretKey, { alg: 'HS384' });
    await expectCode({ authorization: `Bearer ${hs384}` }, 1002, /HS256/);
  });

  it('1002 for a token without exp or iss', async () => {
    await expectCode({ authorization: `Bearer ${await signToken(account.key.accessKey, account.key.secretKey, { without: ['exp'] })}` }, 1002);
    await expectCode({ authorization: `Bearer ${await signToken(account.key.accessKey, account.key.secretKey, { without: ['iss'] })}` }, 1002);
  });

  it('1003 when nbf is in the future beyond the allowed skew', async () => {
    const token = await signToken(account.key.accessKey, account.key.secretKey, { nbfIn: 60 });
    await expectCode({ authorization: `Bearer ${token}` }, 1003);
  });

  it('1004 when exp is past beyond the allowed skew', async () => {
    const token = await signToken(account.key.accessKey, account.key.secretKey, { expIn: -60, nbfIn: -120 });
    await expectCode({ authorization: `Bearer ${token}` }, 1004);
  });

  it('allows clock skew within OUTPAINT_TOKEN_SKEW_S', async () => {
    const late = await signToken(account.key.accessKey, account.key.secretKey, { expIn: -3, nbfIn: -100 });
    const early = await signToken(account.key.accessKey, account.key.secretKey, { nbfIn: 3 });
    assert.equal((await call(api.url, 'GET', LIST, { token: late })).status, 200);
    assert.equal((await call(api.url, 'GET', LIST, { token: early })).status, 200);
  });

  it('1002 for a revoked key (JWT and plain)', async () => {
    const other = await api.newAccount();
    await api.storage.keys.revoke(other.key.accessKey, Date.now());
    await expectCode({ authorization: `Bearer ${await other.token()}` }, 1002, /revoked/);
    await expectCode({ authorization: `Bearer ${other.key.secretKey}` }, 1002);
  });

  it('checks auth before reading the body', async () => {
    const res = await call(api.url, 'POST', LIST, { body: '{not json' });
    assert.equal(res.body.code, 1001);
  });
});

describe('authenticator cache', () => {
  const keys = new Map<string, ApiKeyRecord>();
  let clock = Date.now();
  let lookups = 0;
  const auth = createAuthenticator({
    keys: {
      find: async (k) => (lookups++, keys.get(k) ?? null),
      findBySecret: async (s) => (lookups++, [...keys.values()].find((k) => k.secretKey === s) ?? null),
    },
    skewSeconds: 0,
    cacheMs: 60_000,
    cache: new LruCache(2),
    now: () => clock,
  });
  const key = newApiKey('cache');
  keys.set(key.accessKey, key);

  it('serves a verified token from the cache, and stops within 60 s of a revocation', async () => {
    const token = await signToken(key.accessKey, key.secretKey, { expIn: 3600 });
    clock = Date.now();
    assert.equal((await auth.authenticate(`Bearer ${token}`)).accountId, key.accountId);
    const before = lookups;
    await auth.authenticate(`Bearer ${token}`);
    assert.equal(lookups, before, 'second call is cached');
    keys.set(key.accessKey, { ...key, revokedAt: clock });
    await auth.authenticate(`Bearer ${token}`); // still cached
    clock += 61_000;
    await assert.rejects(auth.authenticate(`Bearer ${token}`), (e: ApiError) => e.code === 1002);
  });

  it('never trusts a cached token past its exp', async () => {
    const k = newApiKey('short');
    keys.set(k.accessKey, k);
    clock = Date.now();
    const token = await signToken(k.accessKey, k.secretKey, { expIn: 5 });
    await auth.authenticate(`Bearer ${token}`);
    clock += 6_000;
    await assert.rejects(auth.authenticate(`Bearer ${token}`), (e: ApiError) => e.code === 1004);
  });

  it('is bounded (least recently used entries go first)', async () => {
    clock = Date.now();
    const tokens = await Promise.all([1, 2, 3].map((i) => signToken(key.accessKey, key.secretKey, { expIn: 1000 + i })));
    keys.set(key.accessKey, key);
    for (const t of tokens) await auth.authenticate(`Bearer ${t}`);
    const before = lookups;
    await auth.authenticate(`Bearer ${tokens[0]}`); // evicted: looked up again
    assert.equal(lookups, before + 1);
  });
});
