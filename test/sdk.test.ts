/**
 * The SDK (`outpaint/client`, src/client) against real servers: `outpaint serve` as a process for the
 * task lifecycle and callbacks, the in-process API (test/support/http.ts) where a test needs a setting
 * of its own (a one-second rate-limit window, a queue of one). Retries are counted by a forwarding proxy
 * in front of the server (test/support/proxy.ts), which can also lose a request or its answer.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { NETWORK_ERROR, OutpaintClient, OutpaintError, UNEXPECTED_RESPONSE, verifyWebhook, WebhookVerificationError, type Task } from '../src/client/index.js';
import { startApi, type TestApi } from './support/http.js';
import { makePng } from './support/images.js';
import { createKeys, freePort, startServer, stopServer, tempDataDir, waitFor, type Keys, type ServerProcess } from './support/outpaint-process.js';
import { sceneJpeg } from './support/pictures.js';
import { startProxy, type Proxy } from './support/proxy.js';
import type { Receiver } from './support/receiver.js';
import { serveAccount, type ServedAccount } from './support/served-account.js';
import { tempDir } from './support/tmp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const EXPAND = '/v1/images/editing/expand';

/** Runs `fn`, which must fail with an OutpaintError; answers with it. */
async function failure(fn: () => Promise<unknown>): Promise<OutpaintError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof OutpaintError, `an OutpaintError, not ${String(err)}`);
    return err;
  }
  assert.fail('expected a failure');
}

const REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('the SDK against outpaint serve', () => {
  let served: ServedAccount;
  let keys: Keys;
  let server: ServerProcess;
  let receiver: Receiver;
  let client: OutpaintClient;

  before(async () => {
    served = await serveAccount('sdk', { OUTPAINT_ACCOUNT_CONCURRENCY: '30' });
    ({ keys, server, receiver } = served);
    client = new OutpaintClient({ baseUrl: server.url, accessKey: keys.access_key, secretKey: keys.secret_key });
  });

  after(() => served.close());

  it('creates a task from bytes, waits for it with progress, downloads and decodes its results, and verifies its callbacks', async () => {
    const created = await client.create({
      image: new Uint8Array(await makePng(320, 320)),
      left_expansion_ratio: 0.25,
      right_expansion_ratio: 0.25,
      n: 2,
      watermark_info: { enabled: true },
      external_task_id: 'sdk-e2e',
      callback_url: receiver.url,
    });
    assert.equal(created.task_status, 'submitted');
    assert.equal(created.task_info.external_task_id, 'sdk-e2e');

    const seen: Task[] = [];
    const task = await client.waitFor(created.task_id, { onProgress: (t) => seen.push(t), pollIntervalMs: 50 });
    assert.equal(task.task_status, 'succeed', task.task_status_msg);
    assert.ok(seen.length >= 2, `onProgress saw ${seen.length} states`);
    assert.equal(seen.at(-1), task, 'the finished state is reported too');
    const progress = seen.map((t) => t.task_progress ?? 0);
    assert.deepEqual(progress, [...progress].sort((a, b) => a - b), `progress only rises: ${progress.join(' ')}`);

    const images = await client.downloadResults(task);
    const marked = await client.downloadResults(task, { watermarked: true });
    assert.equal(images.length, 2);
    assert.equal(marked.length, 2);
    for (const bytes of [...images, ...marked]) {
      assert.ok(bytes instanceof Uint8Array);
      const meta = await sharp(bytes).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['png', 480, 320]);
    }
    assert.notDeepEqual(images[0], marked[0], 'the watermarked copy differs');

    // By external id: the path form, and the query form (which carries any id, "/" included).
    assert.equal((await client.get('sdk-e2e')).task_id, created.task_id);
    assert.equal((await client.get({ external_task_id: 'sdk-e2e' })).task_id, created.task_id);
    assert.equal((await client.get({ task_id: created.task_id })).task_status, 'succeed');

    // The server's real callback, checked by the SDK as a receiver would.
    const delivery = await waitFor('the succeed callback', async () => receiver.received.find((r) => r.body.task_status === 'succeed'));
    const headers = delivery.headers as Record<string, string>;
    const body = await verifyWebhook(headers, delivery.raw, keys.webhook_secret);
    assert.equal(body.task_id, created.task_id);
    assert.deepEqual(body.task_result, task.task_result);
    // A fetch Headers object and the bytes work as well; the secret without its prefix too.
    const fetchHeaders = new Headers(headers);
    assert.equal((await verifyWebhook(fetchHeaders, new TextEncoder().encode(delivery.raw), keys.webhook_secret.slice(6))).task_id, created.task_id);

    const refused = async (p: Promise<unknown>, reason: RegExp) => {
      await assert.rejects(p, (err: Error) => err instanceof WebhookVerificationError && reason.test(err.message));
    };
    await refused(verifyWebhook(headers, delivery.raw.replace('"succeed"', '"failed"'), keys.webhook_secret), /no signature matches/);
    await refused(verifyWebhook({ ...headers, 'webhook-id': 'msg_other' }, delivery.raw, keys.webhook_secret), /no signature matches/);
    const sentAt = Number(headers['webhook-timestamp']) * 1000;
    await refused(verifyWebhook(headers, delivery.raw, keys.webhook_secret, { now: sentAt + 301_000 }), /s old, more than the 300 s/);
    await refused(verifyWebhook(headers, delivery.raw, keys.webhook_secret, { now: sentAt - 301_000 }), /in the future/);
    assert.ok(await verifyWebhook(headers, delivery.raw, keys.webhook_secret, { now: sentAt + 299_000 }));
    await refused(verifyWebhook(headers, delivery.raw, `whsec_${btoa('another key of 24 bytes!')}`), /no signature matches/);
    const { ['webhook-signature']: _, ...unsigned } = headers;
    await refused(verifyWebhook(unsigned, delivery.raw, keys.webhook_secret), /webhook-signature: header missing/);
  });

  it('the receiver of docs/webhook-receiver.md, run as written, accepts the server’s callbacks and refuses a forged one', async () => {
    const doc = await readFile(path.join(ROOT, 'docs', 'webhook-receiver.md'), 'utf8');
    const code = /```js\n([\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(code, 'the page has the example');
    const dir = await tempDir('outpaint-receiver-');
    await mkdir(path.join(dir.path, 'node_modules'));
    await symlink(ROOT, path.join(dir.path, 'node_modules', 'outpaint'), 'dir');
    await writeFile(path.join(dir.path, 'receiver.mjs'), code);
    const child = spawn(process.execPath, ['receiver.mjs'], {
      cwd: dir.path,
      env: { ...process.env, PORT: '0', OUTPAINT_WEBHOOK_SECRET: keys.webhook_secret },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    try {
      const port = await waitFor('the receiver to listen', async () => /listening on (\d+)/.exec(out)?.[1], 10_000);
      const created = await client.create({ image: new Uint8Array(await makePng(320, 320)), up_expansion_ratio: 0.3, callback_url: `http://127.0.0.1:${port}/` });
      await waitFor('the receiver to log the finished task', async () => out.includes(`${created.task_id} succeed http://`), 30_000);
      assert.match(out, new RegExp(`${created.task_id} processing \n`), 'each status change once');
      const forged = await fetch(`http://127.0.0.1:${port}/`, {
        method: 'POST',
        headers: { 'webhook-id': 'msg_x', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': 'v1,AAAA' },
        body: '{}',
      });
      assert.equal(forged.status, 400);
    } finally {
      child.kill();
      await dir.remove();
    }
  });

  it('lists every task across pages, newest first', async () => {
    const image = (await makePng(320, 320)).toString('base64');
    for (let i = 0; i < 5; i++) await client.create({ image, up_expansion_ratio: 0.2, external_task_id: `list-${i}` });
    const all = await client.listPage({ pageSize: 500 });
    assert.ok(all.length >= 5);

    const proxy = await startProxy(server.url);
    try {
      const viaProxy = new OutpaintClient({ baseUrl: proxy.url, accessKey: keys.access_key, secretKey: keys.secret_key });
      const pages: Task[][] = [];
      for await (const page of viaProxy.pages({ pageSize: 2 })) pages.push(page);
      assert.deepEqual(pages.flat().map((t) => t.task_id), all.map((t) => t.task_id));
      assert.ok(pages.every((p) => p.length <= 2));
      // A full last page needs one more (empty) page to know it was the last.
      assert.equal(proxy.count('GET', EXPAND), Math.floor(all.length / 2) + 1);

      const listed: string[] = [];
      for await (const task of viaProxy.list({ pageSize: 3 })) listed.push(task.task_id);
      assert.deepEqual(listed, all.map((t) => t.task_id));
      const created = all.map((t) => t.created_at);
      assert.deepEqual(created, [...created].sort((a, b) => b - a));
      for (let i = 0; i < 5; i++) assert.ok(all.some((t) => t.task_info.external_task_id === `list-${i}`));

      // Stopping early reads no further page.
      const before = proxy.count('GET', EXPAND);
      for await (const _ of viaProxy.list({ pageSize: 1 })) break;
      assert.equal(proxy.count('GET', EXPAND), before + 1);
    } finally {
      await proxy.close();
    }
  });

  it('cancels a running task; cancelling it again is a typed 1201', async () => {
    const image = (await sceneJpeg(1600, 1200, 5)).toString('base64');
    const created = await client.create({ image, left_expansion_ratio: 1, right_expansion_ratio: 0.5, n: 3 });
    const cancelled = await client.cancel(created.task_id);
    assert.equal(cancelled.task_status, 'failed');
    assert.equal(cancelled.task_status_msg, 'canceled');
    assert.equal((await client.waitFor(created.task_id, { pollIntervalMs: 50 })).task_status_msg, 'canceled');

    const again = await failure(() => client.cancel(created.task_id));
    assert.equal(again.code, 1201);
    assert.equal(again.status, 400);
    assert.match(again.message, /^task_id: task .* has already finished \(failed: canceled\)/);
    assert.match(again.request_id, REQUEST_ID);
  });

  it('follows a task through its event stream to the end', async () => {
    const created = await client.create({ image: new Uint8Array(await makePng(400, 300)), down_expansion_ratio: 0.5 });
    const events: Task[] = [];
    for await (const task of client.events(created.task_id)) events.push(task);
    assert.ok(events.length >= 2, `${events.length} events`);
    assert.ok(['submitted', 'processing'].includes(events[0].task_status));
    assert.equal(events.at(-1)!.task_status, 'succeed');
    const progress = events.map((t) => t.task_progress ?? 0);
    assert.deepEqual(progress, [...progress].sort((a, b) => a - b));
    assert.equal(events.at(-1)!.task_progress, 100);

    // A finished task's stream gives its last state and ends; an unknown task is a typed 1203.
    const replay: Task[] = [];
    for await (const task of client.events(created.task_id)) replay.push(task);
    assert.deepEqual(replay.map((t) => t.task_status), ['succeed']);
    const unknown = await failure(async () => {
      for await (const _ of client.events('no-such-task')) assert.fail('no event');
    });
    assert.deepEqual([unknown.code, unknown.status], [1203, 404]);
    assert.match(unknown.request_id, REQUEST_ID);
  });

  it('maps every refusal to an OutpaintError with its code, status and request_id, and never retries 1000-1300', async () => {
    const proxy = await startProxy(server.url);
    try {
      const good = new OutpaintClient({ baseUrl: proxy.url, accessKey: keys.access_key, secretKey: keys.secret_key, retry: { baseDelayMs: 1 } });
      const image = (await makePng(320, 320)).toString('base64');
      const cases: [string, () => Promise<unknown>, number, number, RegExp][] = [
        ['n out of range', () => good.create({ image, left_expansion_ratio: 0.5, n: 10 }), 1201, 400, /^n: /],
        ['area too large', () => good.create({ image, left_expansion_ratio: 2, up_expansion_ratio: 2 }), 1201, 400, /^expansion ratios: /],
        ['data: prefix', () => good.create({ image: `data:image/png;base64,${image}`, left_expansion_ratio: 0.5 }), 1201, 400, /^image: .*data:/],
        ['not an image', () => good.create({ image: btoa('hello, not a picture'), left_expansion_ratio: 0.5 }), 1201, 400, /^image: /],
        ['external id reused', () => good.create({ image, left_expansion_ratio: 0.5, external_task_id: 'sdk-e2e' }), 1201, 400, /^external_task_id: /],
        ['unknown task', () => good.get('no-such-task'), 1203, 404, /./],
        ['unknown external id', () => good.get({ external_task_id: 'no/such' }), 1203, 404, /./],
        ['cancel unknown', () => good.cancel('no-such-task'), 1203, 404, /./],
        [
          'wrong secret key',
          () => new OutpaintClient({ baseUrl: proxy.url, accessKey: keys.access_key, secretKey: 'not-the-secret' }).get('x'),
          1002,
          401,
          /signature/,
        ],
        ['unknown access key', () => new OutpaintClient({ baseUrl: proxy.url, accessKey: 'nobody', secretKey: keys.secret_key }).get('x'), 1002, 401, /access key/],
        ['wrong API key', () => new OutpaintClient({ baseUrl: proxy.url, apiKey: 'x'.repeat(32) }).get('x'), 1002, 401, /API key/],
        [
          'token expired (a clock an hour behind)',
          () => new OutpaintClient({ baseUrl: proxy.url, ...creds(keys), token: { now: () => Date.now() - 3_600_000 } }).get('x'),
          1004,
          401,
          /expired/,
        ],
        [
          'token not yet valid (a clock an hour ahead)',
          () => new OutpaintClient({ baseUrl: proxy.url, ...creds(keys), token: { now: () => Date.now() + 3_600_000 } }).get('x'),
          1003,
          401,
          /not yet valid/,
        ],
      ];
      for (const [what, fn, code, status, message] of cases) {
        const before = proxy.seen.length;
        const err = await failure(fn);
        assert.deepEqual([err.code, err.status], [code, status], `${what}: ${err.message}`);
        assert.match(err.message, message, what);
        assert.match(err.request_id, REQUEST_ID, what);
        assert.equal(err.retryable, false, what);
        assert.equal(proxy.seen.length - before, 1, `${what}: sent once, not retried`);
      }

      // A result link that was tampered with: the file route's 1103, without a token sent.
      const done = await good.waitFor('sdk-e2e', { pollIntervalMs: 50 });
      const link = new URL(done.task_result!.images[0].url);
      link.searchParams.set('signature', 'AAAA');
      const forged = await failure(() => good.download(link.href));
      assert.deepEqual([forged.code, forged.status], [1103, 403]);
      const unsigned = await failure(() => good.download(`${server.url}/v1/files/results/none/0.png`));
      assert.deepEqual([unsigned.code, unsigned.status], [1103, 403]);
      assert.equal(proxy.seen.filter((s) => s.url.startsWith('/v1/files/')).every((s) => s.authorization === ''), true);
      // The API key form works where the secret key is right.
      assert.equal((await new OutpaintClient({ baseUrl: proxy.url, apiKey: keys.secret_key }).get(done.task_id)).task_id, done.task_id);
    } finally {
      await proxy.close();
    }
  });

  it('makes one token and reuses it, and makes a new one before it expires', async () => {
    const proxy = await startProxy(server.url);
    try {
      const c = new OutpaintClient({ baseUrl: proxy.url, ...creds(keys), token: { ttlSeconds: 6, renewBeforeSeconds: 3 } });
      await Promise.all([c.listPage(), c.listPage(), c.listPage()]);
      await c.listPage();
      const first = new Set(proxy.seen.map((s) => s.authorization));
      assert.equal(first.size, 1, 'concurrent and later calls share one token');
      const [header, payload] = [...first][0].slice('Bearer '.length).split('.').slice(0, 2).map((p) => JSON.parse(atob(p.replace(/-/g, '+').replace(/_/g, '/'))));
      assert.deepEqual(header, { alg: 'HS256', typ: 'JWT' });
      assert.equal(payload.iss, keys.access_key);
      assert.equal(payload.exp - payload.nbf, 6 + 5);
      await new Promise((r) => setTimeout(r, 3100));
      await c.listPage();
      assert.equal(new Set(proxy.seen.map((s) => s.authorization)).size, 2, 'renewed three seconds before it expires');
    } finally {
      await proxy.close();
    }
  });

  it('retries a read whose connection broke, and a create with an external_task_id whose answer was lost', async () => {
    const image = (await makePng(320, 320)).toString('base64');
    let dropNext = 0;
    const proxy = await startProxy(server.url, () => (dropNext-- > 0 ? 'drop-after' : 'forward'));
    try {
      const c = new OutpaintClient({ baseUrl: proxy.url, ...creds(keys), retry: { baseDelayMs: 10 } });
      dropNext = 2;
      const pages = await c.listPage({ pageSize: 1 });
      assert.equal(pages.length, 1);
      assert.equal(proxy.count('GET', EXPAND), 3, 'two lost answers, then the third');

      // The first attempt creates the task but its answer is lost: the retry finds the id taken and
      // answers with the task the first attempt made, so there is one task, not two.
      dropNext = 1;
      const created = await c.create({ image, left_expansion_ratio: 0.3, external_task_id: 'lost-answer' });
      assert.equal(proxy.count('POST', EXPAND), 2);
      assert.equal((await c.get('lost-answer')).task_id, created.task_id);
      assert.equal(created.task_info.external_task_id, 'lost-answer');

      // Without an external_task_id, a lost answer is not retried: the task may exist (here it does).
      const before = (await c.listPage({ pageSize: 500 })).length;
      dropNext = 1;
      const lost = await failure(() => c.create({ image, left_expansion_ratio: 0.3, prompt: 'lost' }));
      assert.deepEqual([lost.code, lost.status, lost.request_id], [NETWORK_ERROR, 0, '']);
      assert.equal(lost.retryable, true);
      assert.equal(proxy.count('POST', EXPAND), 3, 'sent once');
      assert.equal((await c.listPage({ pageSize: 500 })).length, before + 1, 'which is why: it was created');
    } finally {
      await proxy.close();
    }
  });

  it('retries a create whose connection was refused (it surely never arrived), until the server is there', async () => {
    const port = await freePort();
    const c = new OutpaintClient({ baseUrl: `http://127.0.0.1:${port}`, ...creds(keys), retry: { retries: 6, baseDelayMs: 300 } });
    let proxy: Proxy | undefined;
    const late = setTimeout(() => void startProxy(server.url, undefined, port).then((p) => (proxy = p)), 400);
    try {
      const created = await c.create({ image: (await makePng(320, 320)).toString('base64'), right_expansion_ratio: 0.3 });
      assert.equal(created.task_status, 'submitted');
      assert.equal(proxy!.count('POST', EXPAND), 1);
    } finally {
      clearTimeout(late);
      await proxy?.close();
    }
    // With nobody ever there, the retries run out and the error says why.
    const nobody = new OutpaintClient({ baseUrl: `http://127.0.0.1:${await freePort()}`, ...creds(keys), retry: { retries: 2, baseDelayMs: 1 } });
    const err = await failure(() => nobody.get('x'));
    assert.deepEqual([err.code, err.status], [NETWORK_ERROR, 0]);
    assert.match(err.message, /ECONNREFUSED/);
    const closedPort = await freePort();
    const link = await failure(() => nobody.download(`http://127.0.0.1:${closedPort}/v1/files/results/t/0.png?expires=1&signature=SECRET`));
    assert.match(link.message, /GET http:\/\/127\.0\.0\.1:\d+\/v1\/files\/results\/t\/0\.png failed/);
    assert.doesNotMatch(link.message, /SECRET/, 'a signed link is a credential: not in messages');
  });

  it('stops waiting when the signal aborts, with the signal’s reason', async () => {
    const image = (await sceneJpeg(1600, 1200, 6)).toString('base64');
    const created = await client.create({ image, left_expansion_ratio: 1, right_expansion_ratio: 0.5, n: 3 });
    const started = Date.now();
    await assert.rejects(client.waitFor(created.task_id, { signal: AbortSignal.timeout(300) }), { name: 'TimeoutError' });
    assert.ok(Date.now() - started < 2000);

    // The same where AbortSignal.any is missing (browsers before 2024): the SDK combines signals by hand.
    const any = AbortSignal.any;
    try {
      (AbortSignal as { any?: unknown }).any = undefined;
      assert.equal((await client.get(created.task_id, { signal: new AbortController().signal })).task_id, created.task_id);
      await assert.rejects(client.waitFor(created.task_id, { signal: AbortSignal.timeout(300) }), { name: 'TimeoutError' });
    } finally {
      AbortSignal.any = any;
    }
    await client.cancel(created.task_id);
  });

  it('types an answer that is not Kling’s envelope, and retries only a gateway’s 502/503/504', async () => {
    let hits = 0;
    let answer = { status: 502, type: 'text/html', body: '<html><h1>502 Bad Gateway</h1></html>' };
    const gateway = http.createServer((_req, res) => {
      hits++;
      res.writeHead(answer.status, { 'content-type': answer.type }).end(answer.body);
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    try {
      const c = new OutpaintClient({ baseUrl: `http://127.0.0.1:${(gateway.address() as { port: number }).port}`, ...creds(keys), retry: { retries: 2, baseDelayMs: 1 } });
      const bad = await failure(() => c.get('x'));
      assert.deepEqual([bad.code, bad.status, bad.retryable], [UNEXPECTED_RESPONSE, 502, true]);
      assert.match(bad.message, /unexpected answer: HTTP 502 text\/html: <html><h1>502 Bad Gateway/);
      assert.equal(hits, 3, 'retried twice');
      // A base URL that is some web site: a page, not an API answer; not retried.
      answer = { status: 200, type: 'text/html', body: '<!doctype html><title>Welcome</title>' };
      const site = await failure(() => c.listPage());
      assert.deepEqual([site.code, site.status, site.retryable], [UNEXPECTED_RESPONSE, 200, false]);
      assert.equal(hits, 4);
    } finally {
      gateway.close();
    }
  });

  it('gives up on a server that does not answer in time', async () => {
    const silent = http.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as { port: number }).port;
      const c = new OutpaintClient({ baseUrl: `http://127.0.0.1:${port}`, ...creds(keys), timeoutMs: 200, retry: { retries: 1, baseDelayMs: 1 } });
      const err = await failure(() => c.get('x'));
      assert.deepEqual([err.code, err.status], [NETWORK_ERROR, 0]);
      assert.match(err.message, /no answer within 200 ms/);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });
});

describe('the SDK across a server restart', () => {
  it('events: the stream the restart ended is reopened (the server refusing connections meanwhile) and followed to the end', async () => {
    const data = await tempDataDir();
    const keys = await createKeys(data.dir, 'restart');
    const port = await freePort();
    const env = { OUTPAINT_DATA_DIR: data.dir, OUTPAINT_PORT: String(port), OUTPAINT_WORKERS: '1', OUTPAINT_QUALITY: 'fast', OUTPAINT_SHUTDOWN_GRACE_S: '0' };
    let server = await startServer(env);
    try {
      const c = new OutpaintClient({ baseUrl: server.url, ...creds(keys), retry: { retries: 8, baseDelayMs: 200 } });
      const image = (await sceneJpeg(1600, 1200, 5)).toString('base64');
      const created = await c.create({ image, left_expansion_ratio: 1, right_expansion_ratio: 0.5 });
      const events: Task[] = [];
      let restarted: Promise<void> | null = null;
      let stoppedAt = Infinity;
      let lastAt = 0;
      for await (const task of c.events(created.task_id)) {
        events.push(task);
        lastAt = Date.now();
        if (!restarted && task.task_status === 'processing' && (task.task_progress ?? 0) > 0) {
          restarted = (async () => {
            await stopServer(server);
            stoppedAt = Date.now();
            server = await startServer(env);
          })();
        }
      }
      await restarted;
      assert.ok(restarted, `the task was seen processing: ${events.map((t) => t.task_status).join(' ')}`);
      assert.equal(events.at(-1)!.task_status, 'succeed');
      assert.ok(lastAt > stoppedAt, 'the end came from the restarted server, through a reopened stream');
    } finally {
      await stopServer(server);
      await data.cleanup();
    }
  });
});

describe('the SDK under the rate limit and a full queue (in-process API, no engine)', () => {
  let api: TestApi;
  before(async () => {
    api = await startApi({ env: { OUTPAINT_RATE_LIMIT: '1', OUTPAINT_MAX_QUEUE: '1' }, rateLimitWindowMs: 1000 });
  });
  after(() => api.close());

  it('waits out retry-after on 1302 and succeeds, or retries and then throws it', async () => {
    const account = await api.newAccount();
    const keysOf = { accessKey: account.key.accessKey, secretKey: account.key.secretKey };
    const spend = async () => {
      await fetch(`${api.url}${EXPAND}?pageSize=1`, { headers: { authorization: `Bearer ${await account.token()}` } });
    };

    // The window's one request is spent: the SDK is told 1302 and retry-after 1, waits, and succeeds.
    const proxy = await startProxy(api.url);
    try {
      const c = new OutpaintClient({ baseUrl: proxy.url, ...keysOf, retry: { retries: 3, baseDelayMs: 1 } });
      await spend();
      const started = Date.now();
      assert.deepEqual(await c.listPage(), []);
      assert.equal(proxy.count('GET', EXPAND), 2);
      assert.ok(Date.now() - started >= 900, `waited ${Date.now() - started} ms, as retry-after said (backoff alone is 1 ms)`);
    } finally {
      await proxy.close();
    }

    // Someone else spends each window first: every attempt is refused; after the retries, the 1302.
    const greedy = await startProxy(api.url, async () => {
      await spend();
      return 'forward' as const;
    });
    try {
      const c = new OutpaintClient({ baseUrl: greedy.url, ...keysOf, retry: { retries: 2, baseDelayMs: 1 } });
      const err = await failure(() => c.listPage());
      assert.deepEqual([err.code, err.status], [1302, 429]);
      assert.match(err.message, /too many requests: at most 1 per .* for this account/);
      assert.match(err.request_id, REQUEST_ID);
      assert.equal(err.retryAfter, 1);
      assert.equal(greedy.count('GET', EXPAND), 3, 'the first attempt and two retries');
    } finally {
      await greedy.close();
    }
  });

  it('retries a create refused 5001 (queue full) after its retry-after, and does not wait longer than maxDelayMs', async () => {
    const account = await api.newAccount();
    const proxy = await startProxy(api.url);
    try {
      const body = { image: (await makePng(320, 320)).toString('base64'), left_expansion_ratio: 0.5 };
      const keysOf = { accessKey: account.key.accessKey, secretKey: account.key.secretKey };
      // Fresh windows for the rate limit between the steps below.
      const nextWindow = () => new Promise((r) => setTimeout(r, 1100));
      await new OutpaintClient({ baseUrl: proxy.url, ...keysOf }).create(body);
      await nextWindow();

      const impatient = new OutpaintClient({ baseUrl: proxy.url, ...keysOf, retry: { retries: 3, maxDelayMs: 5000 } });
      const now = await failure(() => impatient.create(body));
      assert.deepEqual([now.code, now.status, now.retryAfter], [5001, 503, 10]);
      assert.match(now.message, /queue is full/);
      assert.equal(proxy.count('POST', EXPAND), 2, 'retry-after 10 s is more than 5 s: thrown at once');
      await nextWindow();

      const patient = new OutpaintClient({ baseUrl: proxy.url, ...keysOf, retry: { retries: 1, baseDelayMs: 1, maxDelayMs: 15_000 } });
      const started = Date.now();
      const later = await failure(() => patient.create(body));
      assert.equal(later.code, 5001);
      assert.equal(proxy.count('POST', EXPAND), 4, 'a create refused 5001 stored nothing: retried');
      assert.ok(Date.now() - started >= 9900, `retried after ${Date.now() - started} ms (retry-after 10)`);
      assert.equal(api.created, 1, 'one task only');
    } finally {
      await proxy.close();
    }
  });
});

function creds(keys: Keys) {
  return { accessKey: keys.access_key, secretKey: keys.secret_key };
}
