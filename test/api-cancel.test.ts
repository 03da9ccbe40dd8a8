/**
 * Cancel, through HTTP on real server processes: `outpaint serve` (the job runs in the process that is
 * asked to cancel), and an API process beside a worker process over one data directory (the job runs
 * elsewhere and learns of the cancel from the task's status). With one engine thread per worker, a
 * second task starts only once the cancelled one's engine has stopped, which is what is timed.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  api,
  createKeys,
  startServer,
  startSplitDeployment,
  stopServer,
  tempDataDir,
  token,
  waitFor,
  type Keys,
  type ServerProcess,
  type SplitDeployment,
} from './support/outpaint-process.js';
import { sceneJpeg } from './support/pictures.js';
import { startReceiver, type Receiver } from './support/receiver.js';

const EXPAND = '/v1/images/editing/expand';

/** A task that computes for several seconds on one thread (n results, each seconds of work). */
async function slowTaskBody(n: number, extra: Record<string, unknown> = {}) {
  return { image: (await sceneJpeg(1600, 1200, 5)).toString('base64'), left_expansion_ratio: 1, right_expansion_ratio: 0.5, n, ...extra };
}

async function create(base: string, bearer: string, body: unknown): Promise<string> {
  const res = await api(base, 'POST', EXPAND, bearer, body);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data.task_id;
}

async function query(base: string, bearer: string, id: string) {
  const res = await api(base, 'GET', `${EXPAND}/${id}`, bearer);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data;
}

/** Polls every 20 ms; resolves with the task and the time it was first seen in the state wanted. */
async function seen(base: string, bearer: string, id: string, wanted: (t: any) => boolean, timeoutMs = 60_000) {
  return waitFor(`task ${id}`, async () => {
    const t = await query(base, bearer, id);
    return wanted(t) ? { task: t, at: Date.now() } : null;
  }, timeoutMs);
}

const processing = (t: any) => t.task_status === 'processing' && t.task_progress > 0;

/** Cancels a task once its engine is at work and times how soon a waiting task gets the engine. */
async function cancelWhileProcessing(base: string, bearer: string) {
  const running = await create(base, bearer, await slowTaskBody(6));
  const waiting = await create(base, bearer, await slowTaskBody(1));
  await seen(base, bearer, running, processing);
  // Its 6 slots and the waiting task's 1 leave 2 of the account's 9: a 6-image task is refused now.
  const refused = await api(base, 'POST', EXPAND, bearer, await slowTaskBody(6));
  assert.equal(refused.body.code, 1303, JSON.stringify(refused.body));

  const canceled = await api(base, 'POST', `${EXPAND}/${running}/cancel`, bearer);
  const answeredAt = Date.now();
  assert.equal(canceled.status, 200, JSON.stringify(canceled.body));
  assert.equal(canceled.body.code, 0);
  assert.equal(canceled.body.data.task_status, 'failed');
  assert.equal(canceled.body.data.task_status_msg, 'canceled');
  assert.deepEqual(canceled.body.data.task_result.images, []);
  // The engine is free soon after: the waiting task starts on the only thread.
  const next = await seen(base, bearer, waiting, (t) => t.task_status !== 'submitted', 10_000);
  const stoppedInMs = next.at - answeredAt;
  assert.ok(stoppedInMs < 1000, `the waiting task started ${stoppedInMs} ms after the cancel`);
  // The cancelled task's slots are free: 6 more images are admitted beside the waiting task's 1.
  const admitted = await api(base, 'POST', EXPAND, bearer, await slowTaskBody(6));
  assert.equal(admitted.status, 200, JSON.stringify(admitted.body));

  const after = await query(base, bearer, running);
  assert.equal(after.task_status, 'failed');
  assert.equal(after.task_status_msg, 'canceled');
  for (const id of [waiting, admitted.body.data.task_id]) await api(base, 'POST', `${EXPAND}/${id}/cancel`, bearer);
  return { running, stoppedInMs };
}

describe('cancel on `outpaint serve`', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let server: ServerProcess;
  let keys: Keys;
  let other: Keys;
  let receiver: Receiver;
  let bearer: string;

  before(async () => {
    data = await tempDataDir();
    keys = await createKeys(data.dir, 'cancel');
    other = await createKeys(data.dir, 'someone else');
    receiver = await startReceiver(keys.webhook_secret);
    server = await startServer({
      OUTPAINT_DATA_DIR: data.dir,
      OUTPAINT_PORT: '0',
      OUTPAINT_WORKERS: '1',
      OUTPAINT_QUALITY: 'balanced',
      OUTPAINT_ACCOUNT_CONCURRENCY: '9',
      OUTPAINT_ALLOW_PRIVATE_HOSTS: '127.0.0.1',
    });
    bearer = await token(keys);
  });
  after(async () => {
    if (server) await stopServer(server);
    await receiver?.close();
    await data?.cleanup();
  });

  it('stops a processing task within a second and frees its slots', async () => {
    const { running } = await cancelWhileProcessing(server.url, bearer);
    // It wrote no result file.
    const results = await readdir(path.join(data.dir, 'blobs', 'data', 'results')).catch(() => [] as string[]);
    assert.ok(!results.includes(running), `results of ${running}: ${results.join(', ')}`);
  });

  it('a submitted task that is cancelled never runs, and its callback is signed', async () => {
    const busy = await create(server.url, bearer, await slowTaskBody(3));
    await seen(server.url, bearer, busy, processing);
    const queued = await create(server.url, bearer, await slowTaskBody(1, { callback_url: receiver.url, external_task_id: 'never-runs' }));
    // By its external_task_id, as query-one accepts.
    const canceled = await api(server.url, 'POST', `${EXPAND}/never-runs/cancel`, bearer);
    assert.equal(canceled.body.data.task_id, queued);
    assert.equal(canceled.body.data.task_status, 'failed');
    await api(server.url, 'POST', `${EXPAND}/${busy}/cancel`, bearer);
    // The runner gets to the cancelled task's job, and leaves it.
    await new Promise((r) => setTimeout(r, 1500));
    const t = await query(server.url, bearer, queued);
    assert.deepEqual([t.task_status, t.task_status_msg, t.task_progress], ['failed', 'canceled', 0]);
    // Callbacks (verified by the receiver against the webhook secret): submitted, then failed; never processing.
    const delivered = await waitFor('the cancel callback', async () => {
      const mine = receiver.received.filter((r) => r.body.task_id === queued && r.answered === 200);
      return mine.some((r) => r.body.task_status === 'failed') ? mine : null;
    });
    assert.deepEqual(delivered.map((r) => r.body.task_status).sort(), ['failed', 'submitted']);
    assert.equal(delivered.find((r) => r.body.task_status === 'failed')!.body.task_status_msg, 'canceled');
  });

  it('refuses to cancel a finished task, in the envelope, naming the task and its state', async () => {
    const quick = await create(server.url, bearer, { image: (await sceneJpeg(320, 300, 2)).toString('base64'), right_expansion_ratio: 0.2 });
    await seen(server.url, bearer, quick, (t) => t.task_status === 'succeed');
    const res = await api(server.url, 'POST', `${EXPAND}/${quick}/cancel`, bearer);
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 1201);
    assert.match(res.body.request_id, /^[0-9a-f-]{36}$/);
    assert.equal(
      res.body.message,
      `task_id: task ${quick} has already finished (succeed); only a submitted or processing task can be cancelled`,
    );
    // Cancelled already is finished too.
    const again = await create(server.url, bearer, await slowTaskBody(1));
    await api(server.url, 'POST', `${EXPAND}/${again}/cancel`, bearer);
    const twice = await api(server.url, 'POST', `${EXPAND}/${again}/cancel`, bearer);
    assert.deepEqual([twice.status, twice.body.code], [400, 1201]);
    assert.match(twice.body.message, /already finished \(failed: canceled\)/);
  });

  it("another account's task is not found, and so is an unknown one; a token is needed", async () => {
    const mine = await create(server.url, bearer, await slowTaskBody(1));
    const theirs = await api(server.url, 'POST', `${EXPAND}/${mine}/cancel`, await token(other));
    assert.deepEqual([theirs.status, theirs.body.code], [404, 1203]);
    assert.equal((await query(server.url, bearer, mine)).task_status_msg, '', 'still not cancelled');
    const unknown = await api(server.url, 'POST', `${EXPAND}/no-such-task/cancel`, bearer);
    assert.deepEqual([unknown.status, unknown.body.code], [404, 1203]);
    const anonymous = await api(server.url, 'POST', `${EXPAND}/${mine}/cancel`, null);
    assert.deepEqual([anonymous.status, anonymous.body.code], [401, 1001]);
    const wrongMethod = await api(server.url, 'GET', `${EXPAND}/${mine}/cancel`, bearer);
    assert.deepEqual([wrongMethod.status, wrongMethod.body.code], [404, 1202]);
    await api(server.url, 'POST', `${EXPAND}/${mine}/cancel`, bearer);
  });

  it('takes no body: nothing, {} and an empty JSON body are all accepted', async () => {
    for (const init of [
      { headers: {} as Record<string, string>, body: undefined as string | undefined },
      { headers: { 'content-type': 'application/json' }, body: '{}' },
      { headers: { 'content-type': 'application/json' }, body: '' },
      { headers: { 'content-type': 'text/plain' }, body: 'whatever' },
    ]) {
      const id = await create(server.url, bearer, await slowTaskBody(1));
      const res = await fetch(`${server.url}${EXPAND}/${id}/cancel`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}`, ...init.headers },
        body: init.body,
      });
      const body = (await res.json()) as any;
      assert.equal(res.status, 200, `${JSON.stringify(init)}: ${JSON.stringify(body)}`);
      assert.equal(body.data.task_status_msg, 'canceled');
    }
  });
});

describe('cancel with the API and the worker in different processes', () => {
  let split: SplitDeployment;
  before(async () => {
    split = await startSplitDeployment({ OUTPAINT_WORKERS: '1', OUTPAINT_QUALITY: 'balanced' }, { OUTPAINT_LOG_LEVEL: 'info' });
  });
  after(() => split?.close());

  it('the worker stops the job within a second of the cancel made through the other process', async () => {
    const { stoppedInMs } = await cancelWhileProcessing(split.api.url, split.bearer);
    assert.ok(stoppedInMs < 1000);
    // The worker says so in its log (written in batches, flushed every second).
    await waitFor('the worker to log the stop', async () => /"msg":"task cancelled; its job stopped"/.test(split.worker.stdout()), 5000);
  });
});
