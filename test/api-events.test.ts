/**
 * GET /v1/images/editing/expand/{id}/events (Server-Sent Events), through HTTP: on `outpaint serve` with
 * the engine at work, with the API and the worker in different processes, and on an API whose task the
 * test moves by writing to the store itself (as a worker elsewhere would), to pin down resuming,
 * heartbeats and shutdown exactly.
 */
import assert from 'node:assert/strict';
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
import { call, startApi, type Account, type TestApi } from './support/http.js';
import { makePng } from './support/images.js';
import { scenePng } from './support/pictures.js';
import { openEvents, type SseEvent } from './support/sse.js';

const EXPAND = '/v1/images/editing/expand';
const eventsUrl = (base: string, id: string, query = '') => `${base}${EXPAND}/${encodeURIComponent(id)}/events${query}`;

/** Every event until the server ends the stream. */
async function readAll(stream: Awaited<ReturnType<typeof openEvents>>): Promise<SseEvent[]> {
  await stream.ended;
  return stream.events;
}

/** The events' tasks: each a task event, states in order, progress never going back, the last one finished. */
function checkSequence(events: SseEvent[]): any[] {
  assert.ok(events.length >= 2, `${events.length} events`);
  const tasks = events.map((e) => {
    assert.equal(e.event, 'task');
    assert.ok(e.id.length > 0, 'every event has an id');
    return JSON.parse(e.data);
  });
  const rank = { submitted: 0, processing: 1, succeed: 2, failed: 2 } as Record<string, number>;
  for (let i = 1; i < tasks.length; i++) {
    const [a, b] = [tasks[i - 1], tasks[i]];
    assert.ok(rank[b.task_status] >= rank[a.task_status], `status ${a.task_status} → ${b.task_status}`);
    if (a.task_status === b.task_status) assert.ok(b.task_progress > a.task_progress, `progress ${a.task_progress} → ${b.task_progress}`);
    assert.notEqual(events[i].id, events[i - 1].id);
  }
  assert.ok(['succeed', 'failed'].includes(tasks[tasks.length - 1].task_status));
  assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'ids are unique');
  return tasks;
}

describe('events on `outpaint serve`', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let server: ServerProcess;
  let keys: Keys;
  let bearer: string;

  before(async () => {
    data = await tempDataDir();
    keys = await createKeys(data.dir, 'events');
    server = await startServer({
      OUTPAINT_DATA_DIR: data.dir,
      OUTPAINT_PORT: '0',
      OUTPAINT_WORKERS: '2',
      OUTPAINT_QUALITY: 'balanced',
      OUTPAINT_LOG_LEVEL: 'info',
    });
    bearer = await token(keys);
  });
  after(async () => {
    if (server) await stopServer(server);
    await data?.cleanup();
  });

  it('streams every state of a task, progress rising, and ends after succeed with the task as query-one shows it', async () => {
    const created = await api(server.url, 'POST', EXPAND, bearer, {
      image: (await scenePng(900, 700, 4)).toString('base64'),
      left_expansion_ratio: 0.5,
      right_expansion_ratio: 0.5,
      n: 2,
    });
    const id = created.body.data.task_id;
    const stream = await openEvents(eventsUrl(server.url, id), { token: bearer });
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(stream.headers.get('cache-control'), 'no-cache, no-transform');
    const tasks = checkSequence(await readAll(stream));
    assert.ok(tasks.some((t) => t.task_status === 'processing' && t.task_progress > 0 && t.task_progress < 100), 'progress steps in between');
    const last = tasks[tasks.length - 1];
    assert.equal(last.task_status, 'succeed');
    assert.equal(last.task_progress, 100);
    const queried = await api(server.url, 'GET', `${EXPAND}/${id}`, bearer);
    assert.deepEqual(last, queried.body.data, 'the same object as query-one');
  });

  it('a reconnect with Last-Event-ID resumes after it; after the end it gets the end again at once', async () => {
    const created = await api(server.url, 'POST', EXPAND, bearer, {
      image: (await scenePng(900, 700, 6)).toString('base64'),
      up_expansion_ratio: 0.5,
      down_expansion_ratio: 0.5,
      n: 2,
    });
    const id = created.body.data.task_id;
    const first = await openEvents(eventsUrl(server.url, id), { token: bearer });
    const seen = [(await first.next())!, (await first.next())!];
    first.close();
    const resumed = await openEvents(eventsUrl(server.url, id), { token: bearer, lastEventId: seen[1].id });
    const rest = await readAll(resumed);
    const all = checkSequence([...seen, ...rest]);
    assert.equal(all[all.length - 1].task_status, 'succeed');

    const t0 = Date.now();
    const afterEnd = await openEvents(eventsUrl(server.url, id), { token: bearer, lastEventId: rest[rest.length - 1].id });
    const again = await readAll(afterEnd);
    assert.equal(again.length, 1);
    assert.equal(again[0].id, rest[rest.length - 1].id);
    assert.equal(JSON.parse(again[0].data).task_status, 'succeed');
    assert.ok(Date.now() - t0 < 1000, 'at once');
  });

  it('takes the token as the access_token query parameter, and keeps it out of the log', async () => {
    const created = await api(server.url, 'POST', EXPAND, bearer, { image: (await makePng(320, 300)).toString('base64'), left_expansion_ratio: 0.2 });
    const id = created.body.data.task_id;
    const stream = await openEvents(eventsUrl(server.url, id, `?access_token=${encodeURIComponent(bearer)}`));
    assert.equal(stream.status, 200);
    checkSequence(await readAll(stream));
    // The plain API key form too; a bad one is refused in the envelope, and not logged.
    const plain = await openEvents(eventsUrl(server.url, id, `?access_token=${keys.secret_key}`));
    assert.equal(JSON.parse((await readAll(plain))[0].data).task_status, 'succeed');
    const bad = await openEvents(eventsUrl(server.url, id, '?access_token=not-a-real-key-at-all-000'));
    assert.deepEqual([bad.status, bad.json.code], [401, 1002]);
    await waitFor('the refused request in the log', async () => server.stdout().includes('access_token=[redacted]'), 5000);
    assert.ok(!server.stdout().includes('not-a-real-key-at-all-000'), 'a token never reaches the log');
    assert.ok(!server.stdout().includes(bearer) && !server.stdout().includes(keys.secret_key));
  });

  it('refuses a missing token, another account’s task and an unknown one in the envelope, before any stream', async () => {
    const created = await api(server.url, 'POST', EXPAND, bearer, { image: (await makePng(320, 300)).toString('base64'), left_expansion_ratio: 0.2 });
    const id = created.body.data.task_id;
    const anonymous = await openEvents(eventsUrl(server.url, id));
    assert.deepEqual([anonymous.status, anonymous.json.code], [401, 1001]);
    const other = await createKeys(data.dir, 'other');
    const theirs = await openEvents(eventsUrl(server.url, id), { token: await token(other) });
    assert.deepEqual([theirs.status, theirs.json.code], [404, 1203]);
    const unknown = await openEvents(eventsUrl(server.url, 'no-such-task'), { token: bearer });
    assert.deepEqual([unknown.status, unknown.json.code], [404, 1203]);
    const head = await fetch(eventsUrl(server.url, id), { method: 'HEAD', headers: { authorization: `Bearer ${bearer}` } });
    assert.equal(head.status, 404, 'HEAD is not a stream');
  });
});

describe('events with the API and the worker in different processes', () => {
  let split: SplitDeployment;
  before(async () => {
    split = await startSplitDeployment({ OUTPAINT_WORKERS: '2', OUTPAINT_QUALITY: 'balanced' });
  });
  after(() => split?.close());

  it('the API process streams the progress the worker process stores', async () => {
    const created = await api(split.api.url, 'POST', EXPAND, split.bearer, {
      image: (await scenePng(900, 700, 8)).toString('base64'),
      left_expansion_ratio: 1,
      n: 2,
    });
    const stream = await openEvents(eventsUrl(split.api.url, created.body.data.task_id), { token: split.bearer });
    const tasks = checkSequence(await readAll(stream));
    assert.ok(tasks.some((t) => t.task_status === 'processing' && t.task_progress > 0), 'progress from the other process');
    assert.equal(tasks[tasks.length - 1].task_status, 'succeed');
  });
});

describe('events of a task moved by another writer', () => {
  let testApi: TestApi;
  let account: Account;
  let bearer: string;

  before(async () => {
    testApi = await startApi({ eventsHeartbeatMs: 100 });
    account = await testApi.newAccount();
    bearer = await account.token();
  });
  after(() => testApi.close());

  async function newTask(): Promise<string> {
    const res = await call(testApi.url, 'POST', EXPAND, { token: bearer, body: { image: (await makePng(320, 300)).toString('base64'), up_expansion_ratio: 0.5 } });
    assert.equal(res.status, 200);
    return res.body.data.task_id;
  }
  const move = (id: string, from: 'submitted' | 'processing', status: 'processing' | 'succeed' | 'failed') =>
    testApi.storage.tasks.updateStatus(id, { from: [from], status, at: Date.now(), callbackBody: null, statusMsg: status === 'failed' ? 'boom' : undefined });

  it('sends the current state, keeps an idle stream alive with comments, and follows changes made in the store', async () => {
    const id = await newTask();
    const stream = await openEvents(eventsUrl(testApi.url, id), { token: bearer });
    const submitted = (await stream.next())!;
    assert.equal(JSON.parse(submitted.data).task_status, 'submitted');
    await new Promise((r) => setTimeout(r, 350));
    assert.ok(stream.comments.length >= 2, `${stream.comments.length} heartbeats`);
    assert.equal(stream.events.length, 1, 'nothing new, no event');

    await move(id, 'submitted', 'processing');
    const processing = JSON.parse((await stream.next(2000))!.data);
    assert.deepEqual([processing.task_status, processing.task_progress], ['processing', 0]);
    await testApi.storage.tasks.setProgress(id, 40);
    assert.equal(JSON.parse((await stream.next(2000))!.data).task_progress, 40);
    await move(id, 'processing', 'failed');
    const failed = JSON.parse((await stream.next(2000))!.data);
    assert.deepEqual([failed.task_status, failed.task_status_msg, failed.task_progress], ['failed', 'boom', 40]);
    assert.equal(await stream.next(2000), null, 'the stream ends after the finished state');
  });

  it('resumes after the Last-Event-ID: only newer states come; an id that is not ours starts afresh', async () => {
    const id = await newTask();
    await move(id, 'submitted', 'processing');
    await testApi.storage.tasks.setProgress(id, 10);
    const first = await openEvents(eventsUrl(testApi.url, id), { token: bearer });
    const at10 = (await first.next())!;
    first.close();

    const resumed = await openEvents(eventsUrl(testApi.url, id), { token: bearer, lastEventId: at10.id });
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(resumed.events.length, 0, 'the state the client has is not sent again');
    await testApi.storage.tasks.setProgress(id, 55);
    assert.equal(JSON.parse((await resumed.next(2000))!.data).task_progress, 55);
    resumed.close();

    const foreign = await openEvents(eventsUrl(testApi.url, id), { token: bearer, lastEventId: 'something-else' });
    assert.equal(JSON.parse((await foreign.next(2000))!.data).task_progress, 55);
    foreign.close();
  });

  it('a closing server ends its open streams at once instead of waiting for them', async () => {
    const own = await startApi({ env: { OUTPAINT_SHUTDOWN_GRACE_S: '30' } });
    const who = await own.newAccount();
    const res = await call(own.url, 'POST', EXPAND, { token: await who.token(), body: { image: (await makePng(320, 300)).toString('base64'), up_expansion_ratio: 0.5 } });
    const stream = await openEvents(eventsUrl(own.url, res.body.data.task_id), { token: await who.token() });
    await stream.next();
    const t0 = Date.now();
    await own.close();
    await stream.ended;
    assert.ok(Date.now() - t0 < 2000, `closed in ${Date.now() - t0} ms`);
  });
});
