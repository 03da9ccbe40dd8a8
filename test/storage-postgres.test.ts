/**
 * Every storage contract in test/contract/ against PostgreSQL + pg-boss (each test in a schema of its
 * own, dropped afterwards), then what only a shared database has to show: several nodes (backends with
 * pools of their own) on one schema.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { openStorage } from '../src/storage/index.js';
import { MIGRATIONS, openPostgresBackend, type PostgresBackend } from '../src/storage/postgres/index.js';
import { StorageNotFoundError } from '../src/storage/storage.js';
import { callbackOutboxContract } from './contract/callback-outbox.contract.js';
import { createOk, newKey, newTask, sleep, type TaskBackend } from './contract/fixtures.js';
import { jobQueueContract } from './contract/job-queue.contract.js';
import { keyStoreContract } from './contract/key-store.contract.js';
import { rateCounterContract } from './contract/rate-counter.contract.js';
import { secretStoreContract } from './contract/secret-store.contract.js';
import { taskStoreContract } from './contract/task-store.contract.js';
import { freshSchema, POSTGRES_URL, sql, type TestSchema } from './support/postgres.js';
import { tempDir } from './support/tmp.js';

async function openFresh(): Promise<TaskBackend> {
  const schema = await freshSchema();
  const dir = await tempDir('outpaint-pg-');
  const backend = await openPostgresBackend(schema.url);
  return {
    ...backend,
    storageConfig: { dataDir: dir.path, databaseUrl: schema.url },
    async close() {
      await backend.close();
      await schema.drop();
      await dir.remove();
    },
  };
}

/** Another node's handles on the same schema, closed (and the schema dropped) by `close`. */
async function sharedSchema() {
  const schema = await freshSchema();
  const opened: PostgresBackend[] = [];
  return {
    schema,
    async node(): Promise<PostgresBackend> {
      const b = await openPostgresBackend(schema.url);
      opened.push(b);
      return b;
    },
    async close() {
      await Promise.all(opened.map((b) => b.close()));
      await schema.drop();
    },
  };
}

taskStoreContract('PostgreSQL', openFresh);
jobQueueContract('PostgreSQL + pg-boss', openFresh);
callbackOutboxContract('PostgreSQL', openFresh);
keyStoreContract('PostgreSQL', openFresh);
secretStoreContract('PostgreSQL', async () => {
  const shared = await sharedSchema();
  const first = await shared.node();
  return { store: first.secrets, reopen: async () => (await shared.node()).secrets, close: shared.close };
});
rateCounterContract('PostgreSQL', async () => {
  const shared = await sharedSchema();
  return { counter: (await shared.node()).rateCounter, close: shared.close };
});

describe('PostgreSQL: two nodes on one schema', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    await Promise.all(cleanups.map((c) => c()));
  });
  async function twoNodes(): Promise<[PostgresBackend, PostgresBackend]> {
    const shared = await sharedSchema();
    cleanups.push(shared.close);
    return [await shared.node(), await shared.node()];
  }

  it('admits concurrent creates from both only up to the account slots and the queue length', async () => {
    const [a, b] = await twoNodes();
    const slots = { maxAccountSlots: 5, maxQueuedJobs: 1000 };
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) => (i % 2 ? a : b).tasks.create(newTask({ n: 1 }), slots, null)),
    );
    assert.equal(results.filter((r) => r.ok).length, 5);
    assert.ok(results.every((r) => r.ok || r.reason === 'account_slots_full'));

    // The queue's length over all accounts: 5 jobs wait already; 3 more fit under 8.
    const queue = { maxAccountSlots: 100, maxQueuedJobs: 8 };
    const more = await Promise.all(
      Array.from({ length: 16 }, (_, i) => (i % 2 ? a : b).tasks.create(newTask({ accountId: `acct_q${i}` }), queue, null)),
    );
    assert.equal(more.filter((r) => r.ok).length, 3);
    assert.ok(more.every((r) => r.ok || r.reason === 'queue_full'));
    assert.equal(await a.queue.queued(), 8);
    assert.equal(await b.queue.queued(), 8);
  });

  it('refuses a duplicate external_task_id sent to both nodes at once: exactly one is created', async () => {
    const [a, b] = await twoNodes();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).tasks.create(newTask({ externalTaskId: 'same' }), { maxAccountSlots: 100, maxQueuedJobs: 100 }, null)),
    );
    assert.equal(results.filter((r) => r.ok).length, 1);
    assert.ok(results.every((r) => r.ok || r.reason === 'duplicate_external_task_id'));
  });

  it('hands a job claimed on one node to nobody on the other, until its lease runs out', async () => {
    const [a, b] = await twoNodes();
    for (let i = 0; i < 20; i++) await createOk((i % 2 ? a : b).tasks, newTask());
    const claims = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).queue.claim(`w${i}`, 60_000)));
    const got = claims.filter((c) => c !== null);
    assert.equal(got.length, 20);
    assert.equal(new Set(got.map((c) => c.id)).size, 20);

    // A worker on node a dies (stops heartbeating): node b takes its job after the lease, as attempt 2.
    const task = await createOk(a.tasks, newTask());
    const first = (await a.queue.claim('dies', 200))!;
    assert.equal(first.taskId, task.id);
    assert.equal(await b.queue.claim('other', 60_000), null);
    await sleep(300);
    const again = await b.queue.claim('other', 60_000);
    assert.deepEqual(again, { id: first.id, taskId: task.id, attempt: 2 });
    assert.equal(await a.queue.heartbeat(first.id, 'dies', 60_000), false);
  });

  it('counts rate-limit hits from both nodes in one window', async () => {
    const [a, b] = await twoNodes();
    const hits = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).rateCounter.hit('account:x', 60_000)));
    assert.deepEqual(hits.map((h) => h.count).sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('delivers a callback from either node under one webhook-id across retries', async () => {
    const [a, b] = await twoNodes();
    await createOk(a.tasks, newTask({ callbackUrl: 'https://example.com/hook' }), '{"task_status":"submitted"}');
    const now = Date.now() + 10;
    const [first] = await a.outbox.claimDue(now, 10, 1000);
    assert.deepEqual(await b.outbox.claimDue(now, 10, 1000), []);
    await a.outbox.reschedule(first.id, now + 2000, 'HTTP 503');
    const [retry] = await b.outbox.claimDue(now + 2000, 10, 1000);
    assert.equal(retry.id, first.id);
    assert.equal(retry.body, first.body);
    assert.equal(retry.attempts, 1);
  });

  it('migrates once when many nodes start at the same moment', async () => {
    const shared = await sharedSchema();
    cleanups.push(shared.close);
    const nodes = await Promise.all(Array.from({ length: 4 }, () => shared.node()));
    const versions = await sql<{ version: number }>(`SELECT version FROM ${shared.schema.name}.schema_migrations ORDER BY version`);
    assert.deepEqual(versions.map((v) => v.version), MIGRATIONS.map((m) => m.version));
    const key = newKey();
    await nodes[0].keys.create(key);
    assert.deepEqual(await nodes[3].keys.find(key.accessKey), key);
  });
});

describe('PostgreSQL backend specifics', () => {
  const schemas: TestSchema[] = [];
  after(async () => {
    await Promise.all(schemas.map((s) => s.drop()));
  });
  async function schema(): Promise<TestSchema> {
    const s = await freshSchema();
    schemas.push(s);
    return s;
  }

  it('puts its tables and pg-boss in the schema named by ?schema=, and keeps the password out of its location', async () => {
    const s = await schema();
    const backend = await openPostgresBackend(s.url.replace('postgres@', 'postgres:hunter2@'));
    try {
      assert.doesNotMatch(backend.location, /hunter2/);
      assert.match(backend.location, new RegExp(`schema ${s.name}`));
      const tables = await sql<{ table_name: string }>(
        'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
        [s.name],
      );
      const names = tables.map((t) => t.table_name);
      for (const t of ['api_keys', 'callbacks', 'job_leases', 'rate_windows', 'schema_migrations', 'secrets', 'tasks']) {
        assert.ok(names.includes(t), `${t} in ${names.join(', ')}`);
      }
      assert.ok(names.includes('job') && names.includes('queue'), "pg-boss's tables beside ours");
      // Nothing leaked into public.
      const elsewhere = await sql("SELECT 1 FROM information_schema.tables WHERE table_schema = 'public' AND table_name = 'job_leases'");
      assert.equal(elsewhere.length, 0);
    } finally {
      await backend.close();
    }
  });

  it('sends the job through pg-boss in the task\'s transaction, and completes it there', async () => {
    const s = await schema();
    const backend = await openPostgresBackend(s.url);
    try {
      const task = await createOk(backend.tasks, newTask());
      const [job] = await sql<{ id: string; state: string; data: { taskId: string } }>(`SELECT id, state, data FROM ${s.name}.job`);
      assert.equal(job.state, 'created');
      assert.equal(job.data.taskId, task.id);
      const claimed = (await backend.queue.claim('w1', 60_000))!;
      assert.equal(claimed.id, job.id);
      assert.equal((await sql(`SELECT state FROM ${s.name}.job WHERE id = $1`, [job.id]))[0].state, 'active');
      await backend.queue.complete(claimed.id, 'w1');
      assert.equal((await sql(`SELECT state FROM ${s.name}.job WHERE id = $1`, [job.id]))[0].state, 'completed');
      assert.equal((await sql(`SELECT COUNT(*)::int AS n FROM ${s.name}.job_leases`))[0].n, 0);

      // A refused create leaves no job behind in pg-boss either.
      const refused = await backend.tasks.create(newTask({ n: 5 }), { maxAccountSlots: 4, maxQueuedJobs: 100 }, null);
      assert.equal(refused.ok, false);
      assert.equal((await sql(`SELECT COUNT(*)::int AS n FROM ${s.name}.job`))[0].n, 1);
    } finally {
      await backend.close();
    }
  });

  it('finishes a pg-boss job that no task can use instead of failing every claim on it', async () => {
    const s = await schema();
    const backend = await openPostgresBackend(s.url);
    const client = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${s.name}` });
    await client.connect();
    try {
      const task = await createOk(backend.tasks, newTask());
      const running = (await backend.queue.claim('w1', 60_000))!;
      // A second job for a task that has one, and a job for no task, sent behind the backend's back.
      await backend.queue.send(client, task.id);
      await backend.queue.send(client, 'task_gone');
      assert.equal(await backend.queue.queued(), 2);
      assert.equal(await backend.queue.claim('w2', 60_000), null);
      assert.equal(await backend.queue.claim('w2', 60_000), null);
      assert.equal(await backend.queue.queued(), 0);
      const states = await sql<{ state: string; n: number }>(`SELECT state, COUNT(*)::int AS n FROM ${s.name}.job GROUP BY state ORDER BY state`);
      assert.deepEqual(states, [{ state: 'active', n: 1 }, { state: 'completed', n: 2 }]);
      assert.equal(await backend.queue.heartbeat(running.id, 'w1', 60_000), true);
    } finally {
      await client.end();
      await backend.close();
    }
  });

  it('refuses to open a schema without tables when asked not to create one, and creates nothing', async () => {
    const s = await schema();
    await assert.rejects(openStorage({ dataDir: '/nonexistent', databaseUrl: s.url }, { create: false }), (err) => {
      assert.ok(err instanceof StorageNotFoundError);
      assert.match(err.location, new RegExp(`PostgreSQL database postgres://postgres@127\\.0\\.0\\.1:5432/test \\(schema ${s.name}\\)`));
      return true;
    });
    assert.equal((await sql('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [s.name])).length, 0);
  });

  it('refuses a database from a newer version of the program', async () => {
    const s = await schema();
    await (await openPostgresBackend(s.url)).close();
    await sql(`INSERT INTO ${s.name}.schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)`);
    await assert.rejects(openPostgresBackend(s.url), /newer/);
  });

  it('refuses a schema name that is not a plain identifier', async () => {
    await assert.rejects(openPostgresBackend('postgres://postgres@127.0.0.1:5432/test?schema=x;drop'), /schema=x;drop: expected/);
  });

  it('keeps a prompt with any characters exactly (params are stored as text)', async () => {
    const s = await schema();
    const backend = await openPostgresBackend(s.url);
    try {
      const input = newTask();
      input.params.prompt = `nul \u0000 emoji 🎨 quote ' ${randomBytes(4).toString('hex')}`;
      await createOk(backend.tasks, input);
      assert.equal((await backend.tasks.getById(input.id))?.params.prompt, input.params.prompt);
    } finally {
      await backend.close();
    }
  });
});
