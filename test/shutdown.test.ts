/**
 * Graceful shutdown as an operator meets it: `outpaint serve` as a process gets SIGTERM while a job runs.
 * Within OUTPAINT_SHUTDOWN_GRACE_S the job finishes (its callback sent, its files written) and the process
 * exits 0, having stopped accepting connections at once; past the grace the job is handed back to the
 * queue (its attempt not counted) and completes after a restart. The JSON log reaches stdout, request ids
 * included, before the process exits.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { api, createKeys, freePort, startServer, stopServer, tempDataDir, token, waitFor, type Keys, type ServerProcess } from './support/outpaint-process.js';
import { scenePng } from './support/pictures.js';
import { startReceiver, type Receiver } from './support/receiver.js';

const EXPAND = '/v1/images/editing/expand';

let data: Awaited<ReturnType<typeof tempDataDir>>;
let keys: Keys;
let receiver: Receiver;
let env: Record<string, string>;
let server: ServerProcess | null = null;

before(async () => {
  data = await tempDataDir();
  keys = await createKeys(data.dir, 'shutdown');
  receiver = await startReceiver(keys.webhook_secret);
  env = {
    OUTPAINT_DATA_DIR: data.dir,
    OUTPAINT_PORT: String(await freePort()),
    OUTPAINT_WORKERS: '1',
    OUTPAINT_QUALITY: 'balanced',
    OUTPAINT_ALLOW_PRIVATE_HOSTS: '127.0.0.1',
    OUTPAINT_LOG_LEVEL: 'info',
  };
});
after(async () => {
  if (server) await stopServer(server, 'SIGKILL');
  await receiver?.close();
  await data?.cleanup();
});

/** The task and job rows as they are on disk (read while the server runs or after it stopped). */
function rows(taskId: string): { status: string; job: { state: string; attempt: number } | undefined } {
  const db = new Database(path.join(data.dir, 'outpaint.db'), { readonly: true });
  try {
    const task = db.prepare('SELECT status FROM tasks WHERE id = ?').get(taskId) as { status: string };
    const job = db.prepare('SELECT state, attempt FROM jobs WHERE task_id = ?').get(taskId) as { state: string; attempt: number } | undefined;
    return { status: task.status, job };
  } finally {
    db.close();
  }
}

/** A task that keeps one engine thread busy for a few seconds (three images, one after the other). */
async function createLongTask(url: string, bearer: string): Promise<{ taskId: string; requestId: string }> {
  const res = await api(url, 'POST', EXPAND, bearer, {
    image: (await scenePng(600, 400, 5)).toString('base64'),
    left_expansion_ratio: 1,
    n: 3,
    callback_url: receiver.url,
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return { taskId: res.body.data.task_id, requestId: res.body.request_id };
}

async function processing(url: string, bearer: string, taskId: string): Promise<void> {
  await waitFor('the task to be processing', async () => {
    const q = await api(url, 'GET', `${EXPAND}/${taskId}`, bearer);
    return q.body.data.task_status === 'processing';
  });
}

function delivered(taskId: string, status: string) {
  return receiver.received.filter((r) => r.body.task_id === taskId && r.body.task_status === status && r.answered === 200);
}

test('SIGTERM: stops accepting at once, lets the running job finish within the grace, flushes, exits 0', async () => {
  server = await startServer({ ...env, OUTPAINT_SHUTDOWN_GRACE_S: '60' });
  const bearer = await token(keys);
  const { taskId, requestId } = await createLongTask(server.url, bearer);
  await processing(server.url, bearer, taskId);

  const signalled = Date.now();
  server.child.kill('SIGTERM');
  // The port closes while the job still runs.
  await waitFor('the port to close', async () => {
    try {
      await fetch(`${server!.url}/healthz`);
      return false;
    } catch {
      return true;
    }
  }, 5000);
  assert.equal(rows(taskId).status, 'processing', 'the port closed before the job finished');
  assert.equal(server.child.exitCode, null, 'the process waits for the job');

  assert.equal(await server.exited, 0);
  const log = server.stdout();
  server = null;
  assert.ok(Date.now() - signalled < 60_000);
  assert.deepEqual(rows(taskId), { status: 'succeed', job: undefined }, 'the job finished and was completed');
  const files = await fs.readdir(path.join(data.dir, 'blobs', 'data', 'results', taskId));
  assert.deepEqual(files.sort(), ['0.png', '1.png', '2.png']);
  // Flushed before exiting: the callback of the change made during the shutdown was delivered.
  assert.equal(delivered(taskId, 'succeed').length, 1, 'the succeed callback went out before exit');

  // The JSON log (pino, asynchronous) reached stdout before the exit, each request's line with its id.
  const lines = log
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const create = lines.find((l) => l.request_id === requestId && l.msg === 'request');
  assert.ok(create, `the create request was logged with its request_id:\n${log}`);
  assert.deepEqual([create.method, create.url, create.statusCode], ['POST', EXPAND, 200]);
  assert.ok(
    lines.some((l) => l.request_id === requestId && l.msg === 'task created' && l.task_id === taskId),
    'the create logged the task id beside the request id',
  );
  assert.ok(lines.some((l) => l.taskId === taskId && l.msg === 'task succeeded'), 'the job logged its success');
});

test('SIGTERM past the grace: the job is handed back (attempt not counted) and completes after a restart', async () => {
  server = await startServer({ ...env, OUTPAINT_SHUTDOWN_GRACE_S: '0.2' });
  let bearer = await token(keys);
  const { taskId } = await createLongTask(server.url, bearer);
  await processing(server.url, bearer, taskId);

  const signalled = Date.now();
  server.child.kill('SIGTERM');
  assert.equal(await server.exited, 0);
  server = null;
  const took = Date.now() - signalled;
  assert.ok(took < 10_000, `stopped ${took} ms after SIGTERM`);
  assert.deepEqual(rows(taskId), { status: 'processing', job: { state: 'queued', attempt: 0 } }, 'handed back, not failed');

  server = await startServer(env);
  bearer = await token(keys);
  const done = await waitFor('the handed-back task to finish', async () => {
    const q = await api(server!.url, 'GET', `${EXPAND}/${taskId}`, bearer);
    return ['succeed', 'failed'].includes(q.body.data.task_status) ? q.body.data : null;
  }, 120_000);
  assert.equal(done.task_status, 'succeed', done.task_status_msg);
  assert.equal(done.task_result.images.length, 3);
  assert.equal((await fetch(done.task_result.images[2].url)).status, 200);

  await waitFor('the succeed callback', async () => delivered(taskId, 'succeed').length > 0);
  // Each status change announced once: the restart did not announce 'processing' again.
  const ids = (status: string) => new Set(receiver.received.filter((r) => r.body.task_id === taskId && r.body.task_status === status).map((r) => r.webhookId));
  assert.deepEqual([ids('submitted').size, ids('processing').size, ids('succeed').size], [1, 1, 1]);
  assert.equal(await stopServer(server), 0);
  server = null;
});

test('a second signal during the grace stops at once; the job keeps its lease, to be retried like after a crash', async () => {
  server = await startServer({ ...env, OUTPAINT_SHUTDOWN_GRACE_S: '60' });
  const bearer = await token(keys);
  const { taskId } = await createLongTask(server.url, bearer);
  await processing(server.url, bearer, taskId);
  server.child.kill('SIGTERM');
  await waitFor('the shutdown to begin', async () => /SIGTERM: finishing running jobs/.test(server!.stderr()), 5000);
  const signalled = Date.now();
  server.child.kill('SIGINT');
  assert.equal(await server.exited, 1);
  assert.ok(Date.now() - signalled < 3000, 'stopped at once');
  assert.match(server.stderr(), /SIGINT again: stopping now/);
  server = null;
  const { status, job } = rows(taskId);
  assert.equal(status, 'processing');
  assert.equal(job?.state, 'running', 'still leased: the next start retries it once the lease runs out');
});

test('SIGTERM is not held up by a client that stalls mid-upload: it is cut off after the grace', { timeout: 30_000 }, async () => {
  server = await startServer({ ...env, OUTPAINT_SHUTDOWN_GRACE_S: '0.5' });
  const socket = net.connect({ port: Number(new URL(server.url).port), host: '127.0.0.1' });
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  // Headers and the first bytes of a body that never comes.
  socket.write(
    `POST ${EXPAND} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${keys.secret_key}\r\n` +
      'Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"image": "',
  );
  const cutOff = new Promise((resolve) => socket.once('close', resolve));
  await new Promise((r) => setTimeout(r, 200));
  const signalled = Date.now();
  server.child.kill('SIGTERM');
  assert.equal(await server.exited, 0);
  server = null;
  const took = Date.now() - signalled;
  assert.ok(took < 5000, `stopped ${took} ms after SIGTERM`);
  await cutOff;
  socket.destroy();
});
