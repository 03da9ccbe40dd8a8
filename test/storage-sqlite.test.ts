import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openEmbeddedStorage } from '../src/storage/index.js';
import { DATABASE_FILE, MIGRATIONS, openSqliteBackend } from '../src/storage/sqlite/index.js';
import { callbackOutboxContract } from './contract/callback-outbox.contract.js';
import { createOk, newKey, newTask, type TaskBackend } from './contract/fixtures.js';
import { jobQueueContract } from './contract/job-queue.contract.js';
import { keyStoreContract } from './contract/key-store.contract.js';
import { taskStoreContract } from './contract/task-store.contract.js';
import { tempDir } from './support/tmp.js';

async function openFresh(): Promise<TaskBackend> {
  const dir = await tempDir('outpaint-sqlite-');
  const backend = openSqliteBackend(dir.path);
  return {
    ...backend,
    storageConfig: { dataDir: dir.path },
    async close() {
      await backend.close();
      await dir.remove();
    },
  };
}

taskStoreContract('SQLite', openFresh);
jobQueueContract('SQLite', openFresh);
callbackOutboxContract('SQLite', openFresh);
keyStoreContract('SQLite', openFresh);

describe('SQLite backend specifics', () => {
  const dirs: { remove(): Promise<void> }[] = [];
  after(async () => {
    await Promise.all(dirs.map((d) => d.remove()));
  });
  async function dataDir(): Promise<string> {
    const dir = await tempDir('outpaint-sqlite-');
    dirs.push(dir);
    return dir.path;
  }
  /** A second, independent connection to look at the file as it is on disk. */
  function inspect(dir: string): Database.Database {
    return new Database(path.join(dir, DATABASE_FILE), { readonly: true });
  }

  it('creates the database in the data directory with WAL, foreign keys and every migration recorded', async () => {
    const dir = await dataDir();
    const backend = openSqliteBackend(dir);
    try {
      assert.equal(backend.file, path.join(dir, DATABASE_FILE));
      const db = inspect(dir);
      try {
        assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
        const versions = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
        assert.deepEqual(versions, MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
        assert.equal((versions[0] as { version: number }).version, 1);
        const tables = db
          .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
          .pluck()
          .all();
        assert.deepEqual(tables, ['api_keys', 'callbacks', 'jobs', 'readiness_probe', 'schema_migrations', 'task_status_counts', 'tasks']);
      } finally {
        db.close();
      }
      // Foreign keys are enforced on the backend's own connection: a job for no task is refused.
      await assert.rejects(backend.queue.enqueue('no-such-task'), /FOREIGN KEY/);
    } finally {
      await backend.close();
    }
  });

  it('keeps tasks, jobs, callbacks and keys across a reopen, without re-running migrations', async () => {
    const dir = await dataDir();
    const first = openSqliteBackend(dir);
    const key = newKey();
    await first.keys.create(key);
    const task = await createOk(first.tasks, newTask({ externalTaskId: 'kept', callbackUrl: 'https://example.com/h' }), '{}');
    await first.close();

    const second = openSqliteBackend(dir);
    try {
      assert.deepEqual(await second.tasks.getByExternalId('acct_a', 'kept'), task);
      assert.deepEqual(await second.keys.find(key.accessKey), key);
      assert.equal(await second.outbox.pending(), 1);
      assert.equal((await second.queue.claim('w1', 60_000))?.taskId, task.id);
      const db = inspect(dir);
      try {
        assert.equal(db.prepare('SELECT COUNT(*) FROM schema_migrations').pluck().get(), MIGRATIONS.length);
      } finally {
        db.close();
      }
    } finally {
      await second.close();
    }
  });

  it('counts tasks by status from the triggers kept counts: started from the rows a database had before, then in step', async () => {
    const dir = await dataDir();
    // A database as version 2 left it, with tasks in it.
    const old = new Database(path.join(dir, DATABASE_FILE));
    old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    for (const m of MIGRATIONS.filter((m) => m.version <= 2)) {
      old.exec(m.sql);
      old.prepare('INSERT INTO schema_migrations VALUES (?, ?, 0)').run(m.version, m.name);
    }
    const insert = old.prepare(`INSERT INTO tasks (id, account_id, status, n, params, input_key, input_width, input_height, created_at, updated_at)
      VALUES (?, 'acct_a', ?, 1, '{}', 'k', 1, 1, 0, 0)`);
    ['succeed', 'succeed', 'failed', 'submitted'].forEach((status, i) => insert.run(`old_${i}`, status));
    old.close();

    const backend = openSqliteBackend(dir);
    try {
      assert.deepEqual(await backend.tasks.countByStatus(), { submitted: 1, processing: 0, succeed: 2, failed: 1 });
      const statuses = ['submitted', 'processing', 'succeed', 'failed'] as const;
      for (let i = 0; i < 40; i++) {
        const task = await createOk(backend.tasks, newTask());
        if (i % 3 === 0) await backend.tasks.updateStatus(task.id, { from: ['submitted'], status: statuses[1 + (i % 3)], at: Date.now(), callbackBody: null });
        if (i % 5 === 0) await backend.tasks.updateStatus(task.id, { from: statuses, status: 'failed', at: Date.now(), callbackBody: null });
      }
      const db = inspect(dir);
      try {
        const counted = Object.fromEntries(statuses.map((s) => [s, db.prepare('SELECT COUNT(*) FROM tasks WHERE status = ?').pluck().get(s)]));
        assert.deepEqual(await backend.tasks.countByStatus(), counted);
      } finally {
        db.close();
      }
    } finally {
      await backend.close();
    }
  });

  it('refuses a database from a newer version of the program', async () => {
    const dir = await dataDir();
    await openSqliteBackend(dir).close();
    const db = new Database(path.join(dir, DATABASE_FILE));
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)").run();
    db.close();
    assert.throws(() => openSqliteBackend(dir), /newer/);
  });

  it('keeps a given-up callback as a dead row with its last error', async () => {
    const dir = await dataDir();
    const backend = openSqliteBackend(dir);
    try {
      await createOk(backend.tasks, newTask({ callbackUrl: 'https://example.com/h' }), '{}');
      const [d] = await backend.outbox.claimDue(Date.now() + 1, 10, 1000);
      await backend.outbox.reschedule(d.id, null, 'HTTP 500');
      const db = inspect(dir);
      try {
        const row = db.prepare('SELECT state, attempts, last_error FROM callbacks WHERE id = ?').get(d.id);
        assert.deepEqual(row, { state: 'dead', attempts: 1, last_error: 'HTTP 500' });
      } finally {
        db.close();
      }
    } finally {
      await backend.close();
    }
  });

  it('stores only a SHA-256 of the secret for secret lookups', async () => {
    const dir = await dataDir();
    const backend = openSqliteBackend(dir);
    try {
      const key = newKey();
      await backend.keys.create(key);
      const db = inspect(dir);
      try {
        const hash = db.prepare('SELECT secret_sha256 FROM api_keys').pluck().get();
        assert.match(String(hash), /^[0-9a-f]{64}$/);
        assert.notEqual(hash, key.secretKey);
      } finally {
        db.close();
      }
    } finally {
      await backend.close();
    }
  });

  it('shares one file between two connections: concurrent claims never hand out a job twice', async () => {
    const dir = await dataDir();
    const a = openSqliteBackend(dir);
    const b = openSqliteBackend(dir);
    try {
      for (let i = 0; i < 20; i++) await createOk(i % 2 ? a.tasks : b.tasks, newTask());
      const claims = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? a.queue : b.queue).claim(`w${i}`, 60_000)),
      );
      const got = claims.filter((c) => c !== null);
      assert.equal(got.length, 20);
      assert.equal(new Set(got.map((c) => c.id)).size, 20);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('closes the database only when every port on it is closed', async () => {
    const dir = await dataDir();
    const backend = openSqliteBackend(dir);
    await Promise.all([backend.tasks.close(), backend.outbox.close(), backend.keys.close()]);
    assert.equal(await backend.queue.queued(), 0);
    await backend.queue.close();
    await assert.rejects(backend.queue.queued(), /not open/);
    await backend.close(); // idempotent
  });

  it('openEmbeddedStorage puts the database and the blobs in the data directory', async () => {
    const dir = await dataDir();
    const storage = openEmbeddedStorage(dir);
    try {
      await storage.blobs.put('inputs/x.png', Buffer.from('x'), { contentType: 'image/png', expiresAt: null });
      await createOk(storage.tasks, newTask());
      assert.equal(await storage.queue.queued(), 1);
      await fs.access(path.join(dir, 'outpaint.db'));
      await fs.access(path.join(dir, 'blobs', 'data', 'inputs', 'x.png'));
    } finally {
      await storage.close();
    }
  });
});
