import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { call, startApi, type Account, type TestApi } from './support/http.js';
import { makePng } from './support/images.js';

const EXPAND = '/v1/images/editing/expand';

let png: string;
before(async () => {
  png = (await makePng()).toString('base64');
});

async function create(api: TestApi, account: Account, extra: Record<string, unknown> = {}) {
  return call(api.url, 'POST', EXPAND, { token: await account.token(), body: { image: png, up_expansion_ratio: 0.5, ...extra } });
}

function inputBlobs(api: TestApi): string[] {
  return [...api.liveBlobs].filter((k) => k.startsWith('inputs/'));
}

describe('tasks: query, ownership, listing', () => {
  let api: TestApi;
  let alice: Account;
  let bob: Account;
  before(async () => {
    api = await startApi({ env: { OUTPAINT_ACCOUNT_CONCURRENCY: '1000' } });
    alice = await api.newAccount();
    bob = await api.newAccount();
  });
  after(() => api.close());

  it('answers a created task by id, by external_task_id in the path, and by ?external_task_id', async () => {
    const created = await create(api, alice, { external_task_id: 'order-1', n: 2, watermark_info: { enabled: true } });
    assert.equal(created.status, 200);
    const id = created.body.data.task_id;
    assert.equal(created.body.data.task_info.external_task_id, 'order-1');
    assert.ok(api.created >= 1, 'onTaskCreated was called');

    for (const p of [`${EXPAND}/${id}`, `${EXPAND}/order-1`, `${EXPAND}?external_task_id=order-1`]) {
      const res = await call(api.url, 'GET', p, { token: await alice.token() });
      assert.equal(res.status, 200, p);
      assert.deepEqual(res.body.data, {
        task_id: id,
        task_status: 'submitted',
        task_status_msg: '',
        task_info: { external_task_id: 'order-1' },
        created_at: created.body.data.created_at,
        updated_at: created.body.data.updated_at,
        final_unit_deduction: '0',
        task_progress: 0,
        watermark_info: { enabled: true },
        task_result: { images: [] },
      });
    }
  });

  it('1203 for an unknown task', async () => {
    for (const p of [`${EXPAND}/nope`, `${EXPAND}?external_task_id=nope`]) {
      const res = await call(api.url, 'GET', p, { token: await alice.token() });
      assert.equal(res.status, 404);
      assert.equal(res.body.code, 1203);
    }
  });

  it('external_task_id is unique within an account, not across accounts', async () => {
    assert.equal((await create(api, alice, { external_task_id: 'dup' })).status, 200);
    const again = await create(api, alice, { external_task_id: 'dup' });
    assert.equal(again.body.code, 1201);
    assert.match(again.body.message, /^external_task_id: dup is already used/);
    assert.equal((await create(api, bob, { external_task_id: 'dup' })).status, 200);
  });

  it('accounts cannot see each other’s tasks', async () => {
    const mine = await create(api, alice, { external_task_id: 'private-1' });
    const id = mine.body.data.task_id;
    const token = await bob.token();
    assert.equal((await call(api.url, 'GET', `${EXPAND}/${id}`, { token })).body.code, 1203);
    assert.equal((await call(api.url, 'GET', `${EXPAND}/private-1`, { token })).body.code, 1203);
    assert.equal((await call(api.url, 'GET', `${EXPAND}?external_task_id=private-1`, { token })).body.code, 1203);
    const list = await call(api.url, 'GET', `${EXPAND}?pageSize=500`, { token });
    assert.ok(!list.body.data.some((t: { task_id: string }) => t.task_id === id));
  });

  it('lists newest first with pageNum and pageSize; a short page is the last', async () => {
    const carol = await api.newAccount();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await create(api, carol)).body.data.task_id);
    const token = await carol.token();
    const page = async (q: string) =>
      (await call(api.url, 'GET', `${EXPAND}?${q}`, { token })).body.data.map((t: { task_id: string }) => t.task_id);
    assert.deepEqual(await page('pageNum=1&pageSize=2'), [ids[4], ids[3]]);
    assert.deepEqual(await page('pageNum=2&pageSize=2'), [ids[2], ids[1]]);
    assert.deepEqual(await page('pageNum=3&pageSize=2'), [ids[0]]);
    assert.deepEqual(await page('pageNum=4&pageSize=2'), []);
    assert.deepEqual(await page(''), [...ids].reverse(), 'defaults: page 1 of 30');
  });

  it('checks the paging ranges', async () => {
    const token = await alice.token();
    const cases: [string, string][] = [
      ['pageNum=0', 'pageNum: 0 is outside [1, 1000]'],
      ['pageNum=1001', 'pageNum: 1001 is outside [1, 1000]'],
      ['pageSize=0', 'pageSize: 0 is outside [1, 500]'],
      ['pageSize=501', 'pageSize: 501 is outside [1, 500]'],
      ['pageSize=abc', 'pageSize: must be an integer'],
      ['pageNum=1.5', 'pageNum: must be an integer'],
    ];
    for (const [q, message] of cases) {
      const res = await call(api.url, 'GET', `${EXPAND}?${q}`, { token });
      assert.equal(res.status, 400, q);
      assert.deepEqual([res.body.code, res.body.message], [1201, message]);
    }
    assert.equal((await call(api.url, 'GET', `${EXPAND}?pageNum=1000&pageSize=500`, { token })).status, 200);
  });
});

describe('tasks: finished tasks and their files', () => {
  let api: TestApi;
  let alice: Account;
  let taskId: string;
  let view: any;
  before(async () => {
    api = await startApi();
    alice = await api.newAccount();
    const created = await create(api, alice, { n: 2, watermark_info: { enabled: true }, callback_url: 'https://example.com/hook' });
    taskId = created.body.data.task_id;
    const result = await makePng(400, 450);
    const at = Date.now();
    for (const key of [`results/${taskId}/0.png`, `results/${taskId}/0-wm.png`, `results/${taskId}/1.png`, `results/${taskId}/1-wm.png`]) {
      await api.storage.blobs.put(key, result, { contentType: 'image/png', expiresAt: at + api.config.resultTtlMs });
    }
    await api.storage.tasks.updateStatus(taskId, { from: ['submitted'], status: 'processing', at: at - 1, callbackBody: null });
    await api.storage.tasks.updateStatus(taskId, {
      from: ['processing'],
      status: 'succeed',
      images: [0, 1].map((index) => ({ index, key: `results/${taskId}/${index}.png`, watermarkKey: `results/${taskId}/${index}-wm.png` })),
      at,
      callbackBody: null,
    });
    view = (await call(api.url, 'GET', `${EXPAND}/${taskId}`, { token: await alice.token() })).body.data;
  });
  after(() => api.close());

  it('shows the results with signed links and charges n', () => {
    assert.equal(view.task_status, 'succeed');
    assert.equal(view.final_unit_deduction, '2');
    assert.equal(view.task_result.images.length, 2);
    for (const [i, img] of view.task_result.images.entries()) {
      assert.equal(img.index, i);
      assert.match(img.url, new RegExp(`^${api.url}/v1/files/results/${taskId}/${i}\\.png\\?expires=\\d+&signature=[\\w-]+$`));
      assert.match(img.watermark_url, /-wm\.png\?expires=/);
    }
    const expires = Number(new URL(view.task_result.images[0].url).searchParams.get('expires'));
    const days = (expires * 1000 - view.updated_at) / 86_400_000;
    assert.ok(Math.abs(days - 30) < 0.001, `links live 30 days, got ${days}`);
  });

  it('serves a result file through its signed link', async () => {
    const res = await call(view.task_result.images[1].url, 'GET', '');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    assert.equal(res.raw.subarray(1, 4).toString(), 'PNG');
  });

  it('403 1103 for a tampered, unsigned or expired link', async () => {
    const url = new URL(view.task_result.images[0].url);
    const tampered = url.href.replace('/0.png', '/1.png');
    const unsigned = `${url.origin}${url.pathname}`;
    const expired = new URL(url.href);
    expired.searchParams.set('expires', '1000');
    const forgedSig = new URL(url.href);
    forgedSig.searchParams.set('signature', 'A'.repeat(43));
    for (const link of [tampered, unsigned, expired.href, forgedSig.href]) {
      const res = await call(link, 'GET', '');
      assert.equal(res.status, 403, link);
      assert.equal(res.body.code, 1103);
    }
    const reallyExpired = api.urls.sign(`results/${taskId}/0.png`, Date.now() - 1000);
    const res = await call(reallyExpired, 'GET', '');
    assert.deepEqual([res.status, res.body.code, res.body.message], [403, 1103, 'no permission: the link has expired']);
  });

  it('1203 for a validly signed link whose file is gone, and never serves inputs', async () => {
    await api.storage.blobs.delete(`results/${taskId}/1.png`);
    assert.equal((await call(view.task_result.images[1].url, 'GET', '')).body.code, 1203);
    const input = api.urls.sign(`inputs/${taskId}`, Date.now() + 60_000);
    assert.equal((await call(input, 'GET', '')).body.code, 1203);
  });
});

describe('tasks: admission limits', () => {
  it('1303 when the account’s slots (n per task) are full; other accounts unaffected', async () => {
    const api = await startApi({ env: { OUTPAINT_ACCOUNT_CONCURRENCY: '3' } });
    try {
      const alice = await api.newAccount();
      const bob = await api.newAccount();
      assert.equal((await create(api, alice, { n: 2 })).status, 200);
      const refused = await create(api, alice, { n: 2 });
      assert.deepEqual([refused.status, refused.body.code], [429, 1303]);
      assert.equal((await create(api, alice, { n: 1 })).status, 200);
      assert.equal((await create(api, bob, { n: 3 })).status, 200);
      assert.equal(inputBlobs(api).length, 3, 'the refused task left no input behind');
    } finally {
      await api.close();
    }
  });

  it('5001 with a clear message when the queue is full', async () => {
    const api = await startApi({ env: { OUTPAINT_MAX_QUEUE: '1', OUTPAINT_ACCOUNT_CONCURRENCY: '100' } });
    try {
      const alice = await api.newAccount();
      assert.equal((await create(api, alice)).status, 200);
      const refused = await create(api, alice);
      assert.deepEqual([refused.status, refused.body.code], [503, 5001]);
      assert.match(refused.body.message, /queue is full/);
      assert.equal(inputBlobs(api).length, 1);
      assert.equal(api.created, 1);
    } finally {
      await api.close();
    }
  });
});

describe('the envelope, routing errors, rate limit, health', () => {
  let api: TestApi;
  before(async () => {
    api = await startApi({ env: { OUTPAINT_RATE_LIMIT: '5' } });
  });
  after(() => api.close());

  it('gives every response a fresh request_id, also in X-Request-Id', async () => {
    const a = await call(api.url, 'GET', '/healthz');
    const b = await call(api.url, 'GET', '/nowhere');
    assert.equal(a.body.request_id, a.headers.get('x-request-id'));
    assert.equal(b.body.request_id, b.headers.get('x-request-id'));
    assert.notEqual(a.body.request_id, b.body.request_id);
    assert.deepEqual(a.body.data, { status: 'ok' });
  });

  it('1202 for a wrong method on a known path, 1203 for an unknown path', async () => {
    for (const [method, p] of [['DELETE', EXPAND], ['PUT', `${EXPAND}/abc`], ['POST', '/healthz'], ['POST', '/v1/files/x']]) {
      const res = await call(api.url, method, p);
      assert.deepEqual([res.status, res.body.code], [404, 1202], `${method} ${p}`);
      assert.equal(res.body.data, undefined);
    }
    const res = await call(api.url, 'GET', '/v1/images/editing/nothing');
    assert.deepEqual([res.status, res.body.code], [404, 1203]);
  });

  it('1200 in the envelope for an undecodable URL', async () => {
    const res = await call(api.url, 'GET', `${EXPAND}/%E0%A4%A`);
    assert.deepEqual([res.status, res.body.code], [400, 1200]);
    assert.equal(res.body.request_id, res.headers.get('x-request-id'));
  });

  it('1302 per account past the rate limit; other accounts and IPs keep their own budget', async () => {
    const alice = await api.newAccount();
    const bob = await api.newAccount();
    const token = await alice.token();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await call(api.url, 'GET', EXPAND, { token })).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
    const limited = await call(api.url, 'GET', EXPAND, { token });
    assert.deepEqual([limited.body.code, limited.body.data], [1302, undefined]);
    assert.equal((await call(api.url, 'GET', EXPAND, { token: await bob.token() })).status, 200);
  });

  it('1302 per IP for unauthenticated requests (failed logins count)', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await call(api.url, 'GET', EXPAND, { token: 'x'.repeat(32) })).body.code);
    assert.deepEqual(codes, [1002, 1002, 1002, 1002, 1002, 1302]);
  });

  it('readyz reflects the database; healthz does not', async () => {
    assert.equal((await call(api.url, 'GET', '/readyz')).status, 200);
    api.setReady(false);
    try {
      const res = await call(api.url, 'GET', '/readyz');
      assert.deepEqual([res.status, res.body.code], [503, 5001]);
      assert.equal((await call(api.url, 'GET', '/healthz')).status, 200);
    } finally {
      api.setReady(true);
    }
  });
});

/** Talks HTTP/1.1 by hand on one connection: writes each part in turn, returns everything answered. */
async function rawHttp(base: string, parts: (string | (() => Promise<unknown>))[]): Promise<string> {
  const socket = net.connect({ port: Number(new URL(base).port), host: '127.0.0.1' });
  let answered = '';
  socket.on('data', (d: Buffer) => (answered += d.toString()));
  const closed = new Promise((resolve) => socket.on('close', resolve));
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  for (const part of parts) {
    if (typeof part === 'string') socket.write(part);
    else await part();
  }
  await Promise.race([closed, new Promise((r) => setTimeout(r, 1000))]);
  socket.destroy();
  return answered;
}

/** The JSON bodies of the responses in a raw HTTP exchange. */
function bodies(answered: string): any[] {
  return [...answered.matchAll(/\r\n\r\n(\{[^\r\n]*?\})(?=HTTP\/1\.1|$)/g)].map((m) => JSON.parse(m[1]));
}

describe('answers outside the routes stay in the envelope', () => {
  it('1200 for HTTP that cannot be parsed, and the connection is closed', async () => {
    const api = await startApi();
    try {
      const answered = await rawHttp(api.url, ['NOT HTTP AT ALL\r\n\r\n']);
      assert.match(answered, /^HTTP\/1\.1 400 /);
      assert.match(answered, /connection: close/i);
      const [body] = bodies(answered);
      assert.deepEqual([body.code, body.message], [1200, 'the request is not valid HTTP']);
      assert.match(answered, new RegExp(`x-request-id: ${body.request_id}`, 'i'));
    } finally {
      await api.close();
    }
  });

  it('503 / 5001 for a request that reaches a closing server on an open connection', async () => {
    const api = await startApi();
    const account = await api.newAccount();
    let closing: Promise<unknown> = Promise.resolve();
    const answered = await rawHttp(api.url, [
      // A create whose body is still on its way when the server starts closing …
      `POST ${EXPAND} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${account.key.secretKey}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 11\r\n\r\n{"image"',
      async () => {
        await new Promise((r) => setTimeout(r, 100)); // the server has the request
        closing = api.app.close();
        await new Promise((r) => setTimeout(r, 100));
      },
      // … is finished (and answered), and one more request follows on the same connection.
      ':5}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n',
    ]);
    await closing;
    await api.close();
    const [first, second] = bodies(answered);
    assert.equal(first.code, 1201, 'the request in flight was answered');
    assert.deepEqual([second.code, second.message], [5001, 'the server is shutting down; retry shortly']);
    assert.match(answered, /HTTP\/1\.1 503 [^]*connection: close/i);
  });
});

describe('logging', () => {
  it('logs every line of a request with its request_id', async () => {
    const lines: string[] = [];
    const api = await startApi({ logLines: lines });
    try {
      const res = await call(api.url, 'GET', EXPAND);
      assert.equal(res.body.code, 1001);
      const mine = lines.map((l) => JSON.parse(l)).filter((l) => l.request_id === res.body.request_id);
      assert.ok(mine.length >= 2, 'incoming, refused, completed');
      assert.ok(mine.some((l) => l.code === 1001));
    } finally {
      await api.close();
    }
  });
});

describe('unexpected failures', () => {
  it('answer 5000 without internals', async () => {
    const api = await startApi();
    const alice = await api.newAccount();
    const token = await alice.token();
    // Break the store under the running app.
    api.storage.tasks.list = async () => {
      throw new Error('SQLITE_CORRUPT: secret path /var/lib/outpaint/outpaint.db');
    };
    try {
      const res = await call(api.url, 'GET', EXPAND, { token });
      assert.deepEqual([res.status, res.body.code, res.body.message], [500, 5000, 'internal error']);
      assert.ok(!res.raw.toString().includes('SQLITE'));
      // A store failure while authenticating is an internal error too, not a 401.
      api.storage.keys.findBySecret = async () => {
        throw new Error('SQLITE_BUSY');
      };
      const auth = await call(api.url, 'GET', EXPAND, { token: alice.key.secretKey });
      assert.deepEqual([auth.status, auth.body.code], [500, 5000]);
    } finally {
      await api.close();
    }
  });
});
