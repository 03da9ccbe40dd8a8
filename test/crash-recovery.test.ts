/**
 * No accepted task is lost: the server is SIGKILLed while a task is processing and started again on the
 * same data directory (and, on PostgreSQL + pg-boss, the same schema); every task still ends `succeed`
 * with its images, and no status change is announced twice under different webhook ids.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { api, freePort, runCli, startServer, stopServer, tempDataDir, token, waitFor, type Keys } from './support/outpaint-process.js';
import { scenePng } from './support/pictures.js';
import { freshSchema } from './support/postgres.js';
import { startReceiver } from './support/receiver.js';

type Backend = 'embedded' | 'PostgreSQL';

/**
 * A data directory (and on PostgreSQL a fresh schema) with a key, a callback receiver for its account,
 * and the settings of a server on a fixed port (so that a restart keeps the URLs); everything is cleaned
 * up after the test.
 */
async function setUp(t: TestContext, backend: Backend, name: string, settings: Record<string, string>) {
  const data = await tempDataDir();
  t.after(() => data.cleanup());
  const storage: Record<string, string> = { OUTPAINT_DATA_DIR: data.dir };
  if (backend === 'PostgreSQL') {
    const schema = await freshSchema();
    t.after(() => schema.drop());
    storage.OUTPAINT_DATABASE_URL = schema.url;
  }
  const made = await runCli(['keys', 'create', '--name', name, '--json'], { env: { ...process.env, ...storage } });
  assert.equal(made.code, 0, made.stderr);
  const keys = JSON.parse(made.stdout) as Keys;
  const receiver = await startReceiver(keys.webhook_secret);
  t.after(() => receiver.close());
  const env = {
    ...storage,
    OUTPAINT_PORT: String(await freePort()),
    OUTPAINT_WORKERS: '1',
    OUTPAINT_ALLOW_PRIVATE_HOSTS: '127.0.0.1',
    ...settings,
  };
  return { keys, receiver, env, bearer: await token(keys) };
}

for (const backend of ['embedded', 'PostgreSQL'] as const) {
  describe(`crash recovery: ${backend}`, () => {
    test('tasks survive a SIGKILL mid-task and complete after restart, callbacks once each', async (t) => {
      const { receiver, env, bearer } = await setUp(t, backend, 'crash', { OUTPAINT_QUALITY: 'balanced', OUTPAINT_JOB_LEASE_S: '2' });
      let server = await startServer(env);
      t.after(() => stopServer(server, 'SIGKILL'));

      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await api(server.url, 'POST', '/v1/images/editing/expand', bearer, {
          image: (await scenePng(480, 360, i + 1)).toString('base64'),
          left_expansion_ratio: 0.5,
          right_expansion_ratio: 0.5,
          callback_url: receiver.url,
        });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        ids.push(res.body.data.task_id);
      }
      await waitFor('a task to be processing', async () => {
        for (const id of ids) {
          const q = await api(server.url, 'GET', `/v1/images/editing/expand/${id}`, bearer);
          if (q.body.data.task_status === 'processing') return true;
        }
        return false;
      });
      assert.equal(await stopServer(server, 'SIGKILL'), 'SIGKILL');

      server = await startServer(env);
      for (const id of ids) {
        const done = await waitFor(`task ${id} to finish`, async () => {
          const q = await api(server.url, 'GET', `/v1/images/editing/expand/${id}`, bearer);
          return ['succeed', 'failed'].includes(q.body.data.task_status) ? q.body.data : null;
        }, 120_000);
        assert.equal(done.task_status, 'succeed', done.task_status_msg);
        assert.equal(done.task_result.images.length, 1);
        const png = await fetch(done.task_result.images[0].url);
        assert.equal(png.status, 200);
      }

      // Every status change of every task arrives, under one webhook id each (a redelivery reuses its id).
      // A delivery the kill cut off comes again once its lease (timeout + 30 s) has run out, so it may
      // arrive after the task's later ones.
      await waitFor('all callbacks', async () =>
        ids.every((id) => ['submitted', 'processing', 'succeed'].every((status) =>
          receiver.received.some((r) => r.body.task_id === id && r.body.task_status === status))),
      90_000);
      for (const id of ids) {
        const byStatus = new Map<string, Set<string>>();
        for (const r of receiver.received.filter((r) => r.body.task_id === id)) {
          if (!byStatus.has(r.body.task_status)) byStatus.set(r.body.task_status, new Set());
          byStatus.get(r.body.task_status)!.add(r.webhookId);
        }
        assert.deepEqual([...byStatus.keys()].sort(), ['processing', 'submitted', 'succeed'], `task ${id}`);
        for (const [status, webhookIds] of byStatus) {
          assert.equal(webhookIds.size, 1, `task ${id}: '${status}' announced under ${webhookIds.size} ids`);
        }
      }
    });

    test('a task interrupted more often than OUTPAINT_JOB_MAX_ATTEMPTS fails, saying why, with a callback', async (t) => {
      const { receiver, env, bearer } = await setUp(t, backend, 'give-up', { OUTPAINT_JOB_LEASE_S: '1', OUTPAINT_JOB_MAX_ATTEMPTS: '1' });
      let server = await startServer(env);
      t.after(() => stopServer(server, 'SIGKILL'));
      const created = await api(server.url, 'POST', '/v1/images/editing/expand', bearer, {
        image: (await scenePng(600, 400, 9)).toString('base64'),
        left_expansion_ratio: 1,
        n: 3,
        callback_url: receiver.url,
        external_task_id: 'doomed',
      });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      await waitFor('the task to be processing', async () =>
        (await api(server.url, 'GET', '/v1/images/editing/expand/doomed', bearer)).body.data.task_status === 'processing',
      );
      assert.equal(await stopServer(server, 'SIGKILL'), 'SIGKILL');

      server = await startServer(env);
      const failed = await waitFor('the task to fail', async () => {
        const q = await api(server.url, 'GET', '/v1/images/editing/expand/doomed', bearer);
        return ['succeed', 'failed'].includes(q.body.data.task_status) ? q.body.data : null;
      });
      assert.equal(failed.task_status, 'failed');
      assert.match(failed.task_status_msg, /^processing was interrupted 1 time; giving up$/);
      assert.equal(failed.final_unit_deduction, '0');
      assert.deepEqual(failed.task_result.images, []);
      const callback = await waitFor('the failed callback', async () =>
        receiver.received.find((r) => r.body.task_status === 'failed'),
      );
      assert.equal(callback.body.task_status_msg, failed.task_status_msg);
      assert.equal(callback.body.task_info.external_task_id, 'doomed');
    });
  });
}
