/**
 * The scale-out database through the front door: `outpaint keys` and `outpaint serve` as processes with
 * OUTPAINT_DATABASE_URL naming a fresh schema (?schema=), one task run to succeed and its image
 * downloaded, and a second API node on the same database answering for the same task and link.
 */
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import sharp from 'sharp';
import { makePng } from './support/images.js';
import { api, runCli, startServer, stopServer, tempDataDir, token, waitFor, type Keys, type ServerProcess } from './support/outpaint-process.js';
import { freshSchema, sql } from './support/postgres.js';

const EXPAND = '/v1/images/editing/expand';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

it('keys, serve and one task end to end on PostgreSQL + pg-boss, seen from two API nodes', async () => {
  const schema = await freshSchema();
  cleanups.push(() => schema.drop());
  const data = await tempDataDir();
  cleanups.push(() => data.cleanup());
  const env = { ...process.env, OUTPAINT_DATA_DIR: data.dir, OUTPAINT_DATABASE_URL: schema.url };

  // Listing before there is a database refuses, naming where it looked, and creates nothing.
  const empty = await runCli(['keys', 'list'], { env });
  assert.equal(empty.code, 1, empty.stderr);
  assert.match(empty.stderr, new RegExp(`PostgreSQL database postgres://postgres@127\\.0\\.0\\.1:5432/test \\(schema ${schema.name}\\) does not exist`));
  assert.equal((await sql('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema.name])).length, 0);

  const created = await runCli(['keys', 'create', '--name', 'smoke', '--json'], { env });
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stderr, new RegExp(`key stored in PostgreSQL database .*\\(schema ${schema.name}\\) \\(new:`));
  const keys = JSON.parse(created.stdout) as Keys;
  const stored = await sql<{ access_key: string }>(`SELECT access_key FROM ${schema.name}.api_keys`);
  assert.deepEqual(stored.map((r) => r.access_key), [keys.access_key]);

  const serverEnv = { OUTPAINT_DATA_DIR: data.dir, OUTPAINT_DATABASE_URL: schema.url, OUTPAINT_PORT: '0', OUTPAINT_QUALITY: 'fast', OUTPAINT_WORKERS: '1' };
  const first = await startServer(serverEnv);
  cleanups.push(() => stopServer(first));
  const bearer = await token(keys);
  const image = (await makePng(320, 320)).toString('base64');
  const create = await api(first.url, 'POST', EXPAND, bearer, { image, right_expansion_ratio: 0.5, external_task_id: 'pg-smoke' });
  assert.equal(create.status, 200, JSON.stringify(create.body));
  const taskId: string = create.body.data.task_id;

  const done = await waitFor('the task to finish', async () => {
    const { body } = await api(first.url, 'GET', `${EXPAND}/${taskId}`, bearer);
    return ['succeed', 'failed'].includes(body.data.task_status) ? body.data : null;
  });
  assert.equal(done.task_status, 'succeed', done.task_status_msg);
  const [img] = done.task_result.images;
  const file = await fetch(img.url);
  assert.equal(file.status, 200);
  const meta = await sharp(Buffer.from(await file.arrayBuffer())).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 480, 320]);
  // The job went through pg-boss and was completed there.
  const jobs = await sql<{ state: string }>(`SELECT state FROM ${schema.name}.job`);
  assert.deepEqual(jobs.map((j) => j.state), ['completed']);

  // A second API node on the same database: the same task by its external id, and the first node's
  // result link verifies here too (the signing key is shared through the database).
  const second: ServerProcess = await startServer({ ...serverEnv, OUTPAINT_WORKERS: '1' });
  cleanups.push(() => stopServer(second));
  const seen = await api(second.url, 'GET', `${EXPAND}/pg-smoke`, bearer);
  assert.equal(seen.body.data.task_id, taskId);
  assert.equal(seen.body.data.task_status, 'succeed');
  const viaSecond = await fetch(new URL(new URL(img.url).pathname + new URL(img.url).search, second.url));
  assert.equal(viaSecond.status, 200);

  // A key made while the servers run works at once on both.
  const later = await runCli(['keys', 'create', '--name', 'later', '--json'], { env });
  assert.equal(later.code, 0, later.stderr);
  assert.doesNotMatch(later.stderr, /\(new:/);
  const laterBearer = await token(JSON.parse(later.stdout) as Keys);
  for (const server of [first, second]) {
    const list = await api(server.url, 'GET', `${EXPAND}?pageNum=1&pageSize=10`, laterBearer);
    assert.equal(list.status, 200, JSON.stringify(list.body));
    assert.deepEqual(list.body.data, [], 'another account sees none of the first one\'s tasks');
  }
  const listed = await runCli(['keys', 'list', '--json'], { env });
  assert.equal(JSON.parse(listed.stdout).length, 2);
});

it('says in one line when PostgreSQL cannot be reached, or the URL cannot be one, naming the setting', async () => {
  const data = await tempDataDir();
  cleanups.push(() => data.cleanup());
  const unreachable = 'postgres://outpaint:s3cret@127.0.0.1:1/test?schema=nowhere';
  for (const args of [['keys', 'create', '--name', 'x'], ['serve']]) {
    const r = await runCli(args, { env: { ...process.env, OUTPAINT_DATA_DIR: data.dir, OUTPAINT_PORT: '0', OUTPAINT_DATABASE_URL: unreachable } });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stderr,
      'outpaint: cannot open PostgreSQL database postgres://outpaint:***@127.0.0.1:1/test (schema nowhere): connect ECONNREFUSED 127.0.0.1:1\n',
    );
  }
  for (const [url, message] of [
    ['postgres://postgres@127.0.0.1:5432/test?schema=Drop;', /^outpaint: OUTPAINT_DATABASE_URL: schema=Drop;: expected a lower-case identifier/],
    ['mysql://root:pw@127.0.0.1/test', /^outpaint: OUTPAINT_DATABASE_URL: mysql:\/\/ is not PostgreSQL: expected postgres:\/\//],
  ] as const) {
    const r = await runCli(['keys', 'list'], { env: { ...process.env, OUTPAINT_DATA_DIR: data.dir, OUTPAINT_DATABASE_URL: url } });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /pw@/);
  }
});
