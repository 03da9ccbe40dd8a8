/**
 * The callback dispatcher end to end: a real SQLite outbox, real HTTP to a receiver on 127.0.0.1 that
 * checks signatures with the standardwebhooks library. Timings are shrunk to tens of milliseconds.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import {
  CallbackDispatcher,
  retryDelayMs,
  signWebhook,
  type CallbackDispatcherOptions,
} from '../src/callbacks/index.js';
import { createSafeHttp, type SafeHttp } from '../src/net/safe-http.js';
import { openSqliteBackend, type SqliteBackend } from '../src/storage/sqlite/index.js';
import { createOk, newKey, newTask, sleep } from './contract/fixtures.js';
import { tempDir } from './support/tmp.js';

const silent = pino({ level: 'silent' });

describe('signWebhook', () => {
  it('matches the Standard Webhooks reference vector', () => {
    const headers = signWebhook(
      'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      'msg_p5jXN8AQM9LWM0D4loKWxJek',
      1614265330,
      '{"test": 2432232314}',
    );
    assert.deepEqual(headers, {
      'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      'webhook-timestamp': '1614265330',
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    });
  });

  it('is accepted by the standardwebhooks library, and a changed body is not', () => {
    const secret = newKey().webhookSecret;
    const body = JSON.stringify({ task_id: 't1', task_status: 'succeed' });
    const headers = signWebhook(secret, 'msg_1', Math.floor(Date.now() / 1000), body);
    assert.deepEqual(new Webhook(secret).verify(body, { ...headers }), JSON.parse(body));
    assert.throws(() => new Webhook(secret).verify(body.replace('succeed', 'failed'), { ...headers }));
  });

  it('refuses a secret that is not base64, and a timestamp in milliseconds by mistake', () => {
    assert.throws(() => signWebhook('whsec_not base64!', 'id', 1, ''));
    assert.throws(() => signWebhook(newKey().webhookSecret, 'id', 1.5, ''));
  });
});

describe('retryDelayMs', () => {
  it('doubles from the base up to the cap, with full jitter below it', () => {
    const top = () => 0.999999;
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 20].map((n) => retryDelayMs(n, 5000, 60_000, top)),
      [4999, 9999, 19999, 39999, 59999, 59999, 59999],
    );
    assert.equal(retryDelayMs(3, 5000, 60_000, () => 0), 0);
    assert.equal(retryDelayMs(3, 5000, 60_000, () => 0.5), 10_000);
    assert.equal(retryDelayMs(10_000, 5000, 3_600_000, top), 3_599_996);
  });
});

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Why the signature did not verify; null when it did. */
  signatureError: string | null;
}

/** A callback receiver on 127.0.0.1; `answer` decides each response, by request number (from 0). */
async function startReceiver(
  secret: string,
  answer: (n: number, req: http.IncomingMessage, res: http.ServerResponse) => void,
) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let signatureError: string | null = null;
      try {
        new Webhook(secret).verify(body, req.headers as Record<string, string>);
      } catch (err) {
        signatureError = String(err);
      }
      const n = received.length;
      received.push({ path: req.url ?? '', headers: req.headers, body, signatureError });
      answer(n, req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    hooks: () => received.filter((r) => r.path === '/hook'),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('CallbackDispatcher', () => {
  let dir: { path: string; remove(): Promise<void> };
  let backend: SqliteBackend;
  let http: SafeHttp;
  let key: ReturnType<typeof newKey>;
  const cleanups: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    dir = await tempDir('outpaint-callbacks-');
    backend = openSqliteBackend(dir.path);
    // The client the server delivers callbacks with; the receivers listen on loopback.
    http = createSafeHttp({ allow: ['127.0.0.1'], connectTimeoutMs: 1000 });
    key = newKey();
    await backend.keys.create(key);
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await http.close();
    await backend.close();
    await dir.remove();
  });

  function dispatcher(options: Partial<CallbackDispatcherOptions> = {}): CallbackDispatcher {
    const d = new CallbackDispatcher({
      outbox: backend.outbox,
      keys: backend.keys,
      deliver: (url, headers, body, opts) => http.post(url, headers, body, opts),
      logger: silent,
      timeoutMs: 200,
      leaseMs: 2000,
      pollIntervalMs: 20,
      backoffBaseMs: 30,
      backoffMaxMs: 60,
      ...options,
    });
    cleanups.push(() => d.stop());
    return d;
  }

  async function receiver(answer: Parameters<typeof startReceiver>[1]) {
    const r = await startReceiver(key.webhookSecret, answer);
    cleanups.push(() => r.close());
    return r;
  }

  /** A task whose 'submitted' callback is in the outbox; returns the body it will carry. */
  async function taskWithCallback(url: string, accountId = key.accountId): Promise<string> {
    const task = newTask({ accountId, callbackUrl: url });
    const body = JSON.stringify({ task_id: task.id, task_status: 'submitted', updated_at: task.createdAt });
    await createOk(backend.tasks, task, body);
    return body;
  }

  it('signs and posts the body; a 500 is retried once, under the same webhook-id', async () => {
    const r = await receiver((n, _req, res) => {
      res.statusCode = n === 0 ? 500 : 200;
      res.end();
    });
    const body = await taskWithCallback(`${r.url}/hook`);
    dispatcher().start();
    await waitFor('the delivery', async () => (await backend.outbox.pending()) === 0);
    await sleep(150); // long enough for a wrong extra retry to show up

    assert.equal(r.received.length, 2);
    for (const req of r.received) {
      assert.equal(req.signatureError, null);
      assert.equal(req.body, body);
      assert.equal(req.headers['content-type'], 'application/json');
      assert.match(String(req.headers['webhook-id']), /^msg_/);
      assert.ok(Math.abs(Number(req.headers['webhook-timestamp']) - Date.now() / 1000) < 10);
    }
    assert.equal(r.received[0].headers['webhook-id'], r.received[1].headers['webhook-id']);
  });

  it('delivers every status change of a task, each under its own webhook-id', async () => {
    const r = await receiver((_n, _req, res) => res.end());
    const task = newTask({ callbackUrl: `${r.url}/hook` });
    await createOk(backend.tasks, task, '"submitted"');
    await backend.tasks.updateStatus(task.id, {
      from: ['submitted'],
      status: 'processing',
      at: Date.now(),
      callbackBody: '"processing"',
    });
    dispatcher().start();
    await waitFor('two deliveries', async () => (await backend.outbox.pending()) === 0);
    assert.deepEqual(r.received.map((x) => x.body).sort(), ['"processing"', '"submitted"']);
    assert.notEqual(r.received[0].headers['webhook-id'], r.received[1].headers['webhook-id']);
    assert.ok(r.received.every((x) => x.signatureError === null));
  });

  it('does not follow a redirect: it counts as a failure to retry later', async () => {
    const r = await receiver((_n, req, res) => {
      if (req.url === '/hook') {
        res.writeHead(307, { location: '/elsewhere' });
      }
      res.end();
    });
    await taskWithCallback(`${r.url}/hook`);
    const d = dispatcher({ backoffBaseMs: 60_000, backoffMaxMs: 60_000, random: () => 1 });
    d.start();
    await waitFor('the first attempt', () => r.received.length === 1);
    await sleep(100);
    await d.stop();

    assert.deepEqual(r.received.map((x) => x.path), ['/hook']);
    assert.equal(await backend.outbox.pending(), 1);
    const [retry] = await backend.outbox.claimDue(Date.now() + 120_000, 10, 1000);
    assert.equal(retry.attempts, 1);
    assert.ok(retry.nextAttemptAt > Date.now() + 30_000);
  });

  it('gives a slow receiver timeoutMs, then retries', async () => {
    const r = await receiver((n, _req, res) => {
      if (n === 0) setTimeout(() => res.end(), 2000).unref(); // far past the 200 ms allowed
      else res.end();
    });
    await taskWithCallback(`${r.url}/hook`);
    const started = Date.now();
    dispatcher().start();
    await waitFor('the redelivery', async () => (await backend.outbox.pending()) === 0);
    const took = Date.now() - started;

    assert.equal(r.received.length, 2);
    assert.equal(r.received[0].headers['webhook-id'], r.received[1].headers['webhook-id']);
    assert.ok(took >= 200, `delivered after ${took} ms: the first attempt should have waited out its timeout`);
    assert.ok(took < 1500, `delivered after ${took} ms: the slow answer should not have been awaited`);
  });

  it('gives up when the retry window is over, and keeps quiet afterwards', async () => {
    const r = await receiver((_n, _req, res) => {
      res.statusCode = 500;
      res.end();
    });
    await taskWithCallback(`${r.url}/hook`);
    dispatcher({ retryForMs: 300, backoffBaseMs: 20, backoffMaxMs: 40 }).start();
    await waitFor('giving up', async () => (await backend.outbox.pending()) === 0);
    const attempts = r.received.length;
    await sleep(150);

    assert.equal(r.received.length, attempts);
    assert.ok(attempts >= 2, `only ${attempts} attempt(s) within the window`);
    assert.ok(r.received.every((x) => x.headers['webhook-id'] === r.received[0].headers['webhook-id']));
    assert.deepEqual(await backend.outbox.claimDue(Date.now() + 86_400_000, 10, 1), []);
  });

  it('delivers promptly when woken, without waiting for the next poll', async () => {
    const r = await receiver((_n, _req, res) => res.end());
    const d = dispatcher({ pollIntervalMs: 60_000 });
    d.start();
    await sleep(50); // the first look at the empty outbox is over; now it sleeps for a minute
    await taskWithCallback(`${r.url}/hook`);
    d.wake();
    await waitFor('the delivery', () => r.received.length === 1, 1000);
  });

  it('flushes on stop: what is due is attempted once more before stop resolves', async () => {
    const r = await receiver((_n, _req, res) => res.end());
    const d = dispatcher({ pollIntervalMs: 60_000 });
    d.start();
    await sleep(50); // asleep until the next poll, a minute away
    await taskWithCallback(`${r.url}/hook`); // recorded without a wake, like a change racing the shutdown
    await d.stop();
    assert.equal(r.received.length, 1);
    assert.equal(await backend.outbox.pending(), 0);
  });

  it('waits for deliveries in flight when stopped', async () => {
    const r = await receiver((_n, _req, res) => setTimeout(() => res.end(), 150));
    await taskWithCallback(`${r.url}/hook`);
    const d = dispatcher({ timeoutMs: 1000 });
    d.start();
    await waitFor('the request to arrive', () => r.received.length === 1);
    assert.equal(d.deliveriesInFlight, 1);
    await d.stop();
    assert.equal(d.deliveriesInFlight, 0);
    assert.equal(await backend.outbox.pending(), 0);
  });

  it('does not send unsigned callbacks: an account without a live key waits for one', async () => {
    const r = await receiver((_n, _req, res) => res.end());
    await taskWithCallback(`${r.url}/hook`, 'acct_without_keys');
    const d = dispatcher({ backoffBaseMs: 60_000, backoffMaxMs: 60_000, random: () => 1 });
    d.start();
    await sleep(150); // several polls: the attempt is made (and recorded) at the first
    await d.stop();
    assert.equal(r.received.length, 0);
    const [later] = await backend.outbox.claimDue(Date.now() + 120_000, 10, 1000);
    assert.equal(later.attempts, 1);
  });

  it('loses no pending delivery across a restart: the next process delivers it under the same webhook-id', async () => {
    // The receiver is unavailable at first: the attempt fails and is rescheduled a minute later.
    const r = await receiver((n, _req, res) => res.writeHead(n === 0 ? 503 : 200).end());
    const body = await taskWithCallback(`${r.url}/hook`);
    const first = dispatcher({ backoffBaseMs: 60_000, backoffMaxMs: 60_000, random: () => 1 });
    first.start();
    await waitFor('the failed attempt', () => r.received.length === 1);
    await first.stop();
    await backend.close(); // the process goes away

    // A new process on the same data directory, a minute later.
    backend = openSqliteBackend(dir.path);
    assert.equal(await backend.outbox.pending(), 1);
    dispatcher({ now: () => Date.now() + 61_000 }).start();
    await waitFor('the redelivery', async () => (await backend.outbox.pending()) === 0);
    assert.equal(r.received.length, 2);
    assert.equal(r.received[1].headers['webhook-id'], r.received[0].headers['webhook-id']);
    assert.equal(r.received[1].body, body);
    assert.equal(r.received[1].signatureError, null);
  });

  it('lets two dispatchers share one outbox without sending anything twice', async () => {
    const r = await receiver((_n, _req, res) => res.end());
    for (let i = 0; i < 10; i++) await taskWithCallback(`${r.url}/hook`);
    const other = openSqliteBackend(dir.path);
    cleanups.push(() => other.close());
    dispatcher().start();
    dispatcher({ outbox: other.outbox, keys: other.keys }).start();
    await waitFor('all deliveries', async () => (await backend.outbox.pending()) === 0);
    await sleep(100);
    assert.equal(r.received.length, 10);
    assert.equal(new Set(r.received.map((x) => x.headers['webhook-id'])).size, 10);
  });
});
