/**
 * The scale-out kill test (issue 6), as processes through HTTP on real engines: 2 `outpaint serve
 * --no-workers` API nodes and 2 `outpaint worker` processes on one fresh PostgreSQL schema and one
 * s3rver bucket. 100 tasks with callbacks are created alternately through both API nodes; once 20 have
 * succeeded and both workers hold a job, one worker and one API node are SIGKILLed, creates still
 * flowing into that node (the one cut off is looked up by its external_task_id); the rest are created
 * through the surviving API node and the surviving worker alone finishes everything (the killed
 * worker is not restarted). Every task ends `succeed`, every image downloads with the right size, every
 * task's `succeed` callback arrives (a repeat only under the same webhook-id), and no task has two
 * result sets, neither in the task nor in the bucket.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ListObjectsV2Command, type ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import pg from 'pg';
import sharp from 'sharp';
import { makePng } from './support/images.js';
import { api, runCli, startServer, startWorker, stopServer, tempDataDir, token, waitFor, type Keys, type ServerProcess } from './support/outpaint-process.js';
import { freshSchema, POSTGRES_URL } from './support/postgres.js';
import { startReceiver } from './support/receiver.js';
import { startS3Server } from './support/s3-server.js';

const EXPAND = '/v1/images/editing/expand';
const TASKS = 100;
const FIRST_WAVE = 40;
const KILL_AFTER_SUCCEEDED = 20;
const LEASE_S = 3;
const SIDE = 320;
const EXPANDED_WIDTH = 400; // 320 + 320 × 0.25 on the right

test('2 API nodes + 2 workers on PostgreSQL and S3: SIGKILL one of each mid-run, every task still succeeds once', { timeout: 240_000 }, async (t) => {
  const started = Date.now();
  // freshSchema fails, naming the server, when PostgreSQL is absent: this test never skips.
  const schema = await freshSchema();
  t.after(() => schema.drop());
  const data = await tempDataDir();
  t.after(() => data.cleanup());
  const s3 = await startS3Server();
  t.after(() => s3.close());
  const bucket = await s3.createBucket('kill');

  const storage = { OUTPAINT_DATA_DIR: data.dir, OUTPAINT_DATABASE_URL: schema.url, ...s3.env(bucket) };
  const made = await runCli(['keys', 'create', '--name', 'kill', '--json'], { env: { ...process.env, ...storage } });
  assert.equal(made.code, 0, made.stderr);
  const keys = JSON.parse(made.stdout) as Keys;
  const bearer = await token(keys);
  const receiver = await startReceiver(keys.webhook_secret);
  t.after(() => receiver.close());

  const env = {
    ...storage,
    OUTPAINT_PORT: '0',
    OUTPAINT_QUALITY: 'fast',
    OUTPAINT_WORKERS: '1',
    OUTPAINT_JOB_LEASE_S: String(LEASE_S),
    OUTPAINT_CALLBACK_TIMEOUT_MS: '3000',
    OUTPAINT_ALLOW_PRIVATE_HOSTS: '127.0.0.1',
    OUTPAINT_ACCOUNT_CONCURRENCY: '1000',
    OUTPAINT_MAX_QUEUE: '1000',
    OUTPAINT_RATE_LIMIT: '100000',
  };
  const processes: ServerProcess[] = [];
  t.after(async () => {
    for (const p of processes) await stopServer(p, 'SIGKILL');
  });
  const start = async (role: 'api' | 'worker') => {
    const p = role === 'api' ? await startServer(env, ['--no-workers']) : await startWorker(env);
    processes.push(p);
    return p;
  };
  const [apiA, apiB] = [await start('api'), await start('api')];
  const [workerA, workerB] = [await start('worker'), await start('worker')];

  // Every claim of a job, logged by a trigger (test-only, in the test's schema): a claim after a lease
  // ran out shows as attempt > 1. Sampling the lease table misses a re-claimed job that finishes in
  // less than one sampling interval.
  const db = new pg.Client({ connectionString: POSTGRES_URL });
  await db.connect();
  t.after(() => db.end());
  const q = schema.name;
  await db.query(`CREATE TABLE ${q}.test_claims (task_id text NOT NULL, attempt integer NOT NULL)`);
  await db.query(`CREATE FUNCTION ${q}.test_log_claim() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN INSERT INTO ${q}.test_claims VALUES (NEW.task_id, NEW.attempt); RETURN NEW; END $$`);
  await db.query(`CREATE TRIGGER test_log_claim AFTER INSERT OR UPDATE OF attempt ON ${q}.job_leases
    FOR EACH ROW EXECUTE FUNCTION ${q}.test_log_claim()`);
  const leaseOwners = async () =>
    (await db.query<{ task_id: string; owner: string | null; attempt: number }>(`SELECT task_id, owner, attempt FROM ${q}.job_leases`)).rows;

  const image = (await makePng(SIDE, SIDE)).toString('base64');
  const ids: string[] = [];
  let next = 0;
  const create = async (node: ServerProcess) => {
    const res = await api(node.url, 'POST', EXPAND, bearer, {
      image,
      right_expansion_ratio: 0.25,
      callback_url: receiver.url,
      external_task_id: `kill-${next++}`,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    ids.push(res.body.data.task_id as string);
  };
  const succeededCallbacks = () => new Set(receiver.received.filter((r) => r.body.task_status === 'succeed').map((r) => r.body.task_id)).size;

  for (let i = 0; i < FIRST_WAVE; i++) await create(i % 2 === 0 ? apiA : apiB);

  // Kill while both workers are in the middle of a job, so that one job really is lost with its worker.
  await waitFor(`${KILL_AFTER_SUCCEEDED} tasks succeeded`, async () => succeededCallbacks() >= KILL_AFTER_SUCCEEDED, 120_000);
  const busy = await waitFor('both workers holding a job', async () => {
    const rows = await leaseOwners();
    return new Set(rows.map((r) => r.owner).filter(Boolean)).size === 2 && rows;
  }, 30_000);
  // Creates keep going into the API node that is killed: the one whose answer the kill cuts off (or that
  // finds the node gone) may or may not have been accepted, and is looked up on the surviving node.
  let createdOnB = 0;
  let unanswered = '';
  const intoB = (async () => {
    for (;;) {
      const externalId = `kill-${next}`;
      try {
        await create(apiB);
        createdOnB++;
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        unanswered = externalId;
        return;
      }
    }
  })();
  // Kill right after a read that shows both workers holding a job: a fast job could otherwise be done
  // by the time the signal lands, and the killed worker would hold nothing to claim again.
  let atKill = busy;
  await waitFor('creates flowing into the node to be killed, both workers holding a job', async () => {
    if (createdOnB < 2) return false;
    const rows = await leaseOwners();
    if (new Set(rows.map((r) => r.owner).filter(Boolean)).size < 2) return false;
    atKill = rows;
    return true;
  }, 30_000);
  workerB.child.kill('SIGKILL');
  apiB.child.kill('SIGKILL');
  assert.equal(await workerB.exited, 'SIGKILL');
  assert.equal(await apiB.exited, 'SIGKILL');
  await intoB;
  const lookedUp = await api(apiA.url, 'GET', `${EXPAND}/${unanswered}`, bearer);
  const cutOffAccepted = lookedUp.status === 200;
  if (cutOffAccepted) ids.push(lookedUp.body.data.task_id as string);
  else assert.equal(lookedUp.body.code, 1203, JSON.stringify(lookedUp.body));
  const succeededAtKill = succeededCallbacks();
  // Read again after the kill as well: the dead worker's lease stays until it is claimed again, even one
  // it took between the first read and the signal.
  const leasedAtKill = [...new Set([...busy, ...atKill, ...(await leaseOwners())].map((r) => r.task_id))];

  while (ids.length < TASKS) await create(apiA);
  assert.equal(new Set(ids).size, TASKS);

  // Poll the surviving node's list (one request for all) until nothing is waiting or running.
  const final = await waitFor('every task finished', async () => {
    const { status, body } = await api(apiA.url, 'GET', `${EXPAND}?pageNum=1&pageSize=${TASKS}`, bearer);
    assert.equal(status, 200, JSON.stringify(body));
    const tasks = body.data as any[];
    return tasks.length === TASKS && tasks.every((task) => task.task_status === 'succeed' || task.task_status === 'failed') && tasks;
  }, 150_000);
  assert.deepEqual(
    final.filter((task) => task.task_status !== 'succeed').map((task) => [task.task_id, task.task_status, task.task_status_msg]),
    [],
  );

  // Every task, queried one by one on the surviving node: one result set of n = 1, and its image downloads.
  for (const id of ids) {
    const { status, body } = await api(apiA.url, 'GET', `${EXPAND}/${id}`, bearer);
    assert.equal(status, 200, JSON.stringify(body));
    const task = body.data;
    assert.equal(task.task_status, 'succeed', id);
    assert.equal(task.task_result.images.length, 1, `task ${id} has one image: ${JSON.stringify(task.task_result.images)}`);
    const file = await fetch(task.task_result.images[0].url);
    assert.equal(file.status, 200, `the image of ${id}`);
    const meta = await sharp(Buffer.from(await file.arrayBuffer())).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['png', EXPANDED_WIDTH, SIDE], id);
  }

  // The bucket holds exactly one result object per task (runner key layout: results/<task id>/<index>.png).
  const resultKeys: string[] = [];
  const client = s3.client();
  t.after(() => client.destroy());
  let continuation: string | undefined;
  do {
    const page: ListObjectsV2CommandOutput = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: 'results/', ContinuationToken: continuation }),
    );
    resultKeys.push(...(page.Contents ?? []).map((o) => o.Key!));
    continuation = page.NextContinuationToken;
  } while (continuation);
  assert.deepEqual(resultKeys.sort(), ids.map((id) => `results/${id}/0.png`).sort());

  // Every task's succeed callback arrived; a status is announced under one webhook-id however often it
  // is delivered (a delivery cut off by the kill is repeated by the surviving worker under the same id).
  await waitFor('every succeed callback', async () => succeededCallbacks() === TASKS, 60_000);
  const webhookIds = new Map<string, Set<string>>();
  for (const r of receiver.received) {
    const key = `${r.body.task_id} ${r.body.task_status}`;
    webhookIds.set(key, (webhookIds.get(key) ?? new Set()).add(r.webhookId));
  }
  const split = [...webhookIds].filter(([, set]) => set.size > 1).map(([key, set]) => `${key}: ${[...set].join(', ')}`);
  assert.deepEqual(split, [], 'one webhook-id per (task, status)');
  for (const id of ids) assert.ok(webhookIds.has(`${id} succeed`), `the succeed callback of ${id}`);
  const received = receiver.received.filter((r) => ids.includes(r.body.task_id));
  const duplicates = received.length - new Set(received.map((r) => r.webhookId)).size;

  // The job the killed worker held was claimed again by the survivor once its lease ran out.
  const reclaimed = (await db.query<{ task_id: string }>(`SELECT DISTINCT task_id FROM ${q}.test_claims WHERE attempt > 1`)).rows.map((r) => r.task_id);
  assert.ok(reclaimed.length >= 1, `a job of the killed worker was claimed again (leased at the kill: ${leasedAtKill.join(', ')})`);
  assert.ok(reclaimed.every((id) => leasedAtKill.includes(id)), `only jobs leased at the kill were claimed again: ${reclaimed.join(', ')}`);
  assert.equal(workerA.child.exitCode, null, 'the surviving worker is still running');

  t.diagnostic(
    `scale-out kill: ${TASKS} tasks succeeded in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
      `(2 API + 2 workers; SIGKILL of 1 worker + 1 API after ${succeededAtKill} succeeded, killed worker not restarted; ` +
      `the create cut off by the kill was ${cutOffAccepted ? 'accepted' : 'not accepted'}); ` +
      `${received.length} callbacks received, ${duplicates} repeated deliveries (same webhook-id); ` +
      `re-claimed jobs: ${reclaimed.length} (${reclaimed.join(', ')})`,
  );
});
