/**
 * The scale-out database backend: tasks, their leases, the callback outbox, API keys, shared secrets
 * and rate windows in PostgreSQL, the waiting jobs in pg-boss, all in one schema on one pool. The SQL
 * lives in schema.ts (DDL) and statements.ts (queries).
 */
import { StorageNotFoundError, StorageUnavailableError, type DatabaseBackend, type OpenOptions } from '../storage.js';
import { PgCallbackOutbox } from './callback-outbox.js';
import { createPool, parseDatabaseUrl } from './connection.js';
import { PgJobQueue, startBoss } from './job-queue.js';
import { PgKeyStore } from './key-store.js';
import { PgRateCounter } from './rate-counter.js';
import { isInstalled, migrate } from './schema.js';
import { stmt } from './statements.js';
import { PgSecretStore } from './secret-store.js';
import { PgTaskStore } from './task-store.js';

export { DatabaseUrlError, DEFAULT_SCHEMA, parseDatabaseUrl } from './connection.js';
export { MIGRATIONS } from './schema.js';
export { JOB_QUEUE } from './statements.js';
export { PgCallbackOutbox, PgJobQueue, PgKeyStore, PgRateCounter, PgSecretStore, PgTaskStore };

export interface PostgresBackend extends DatabaseBackend {
  tasks: PgTaskStore;
  queue: PgJobQueue;
  outbox: PgCallbackOutbox;
  keys: PgKeyStore;
  secrets: PgSecretStore;
  rateCounter: PgRateCounter;
  /** The schema everything lives in. */
  schema: string;
}

export interface PostgresOptions extends OpenOptions {
  /** Connections this process keeps at most (default 10). */
  poolSize?: number;
  /** pg-boss's background errors (its maintenance); default: a process warning. */
  onError?: (err: Error) => void;
}

/**
 * Opens the database at `url` (postgres://…[?schema=name], schema "outpaint" by default), migrated as
 * needed, and created too unless `create` is false (then StorageNotFoundError when it has no tables).
 */
export async function openPostgresBackend(url: string, options: PostgresOptions = {}): Promise<PostgresBackend> {
  const target = parseDatabaseUrl(url);
  const pool = createPool(target, options.poolSize);
  try {
    // The first statement tells an unreachable server (or bad credentials) from everything later.
    const installed = await isInstalled(pool).catch((err: unknown) => {
      throw new StorageUnavailableError(`cannot open ${target.location}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    });
    if (options.create === false && !installed) throw new StorageNotFoundError(target.location);
    await migrate(pool, target.schema);
    const onError = options.onError ?? ((err: Error) => process.emitWarning(`pg-boss: ${err.message}`));
    const boss = await startBoss(pool, target.schema, onError);
    const queue = new PgJobQueue(pool, boss);
    let closing: Promise<void> | null = null;
    return {
      tasks: new PgTaskStore(pool, queue),
      queue,
      outbox: new PgCallbackOutbox(pool),
      keys: new PgKeyStore(pool),
      secrets: new PgSecretStore(pool),
      rateCounter: new PgRateCounter(pool),
      schema: target.schema,
      location: target.location,
      async checkWritable() {
        await pool.query(stmt('probeWrite'));
      },
      close() {
        // pg-boss runs no workers of ours (claims are fetches), so nothing is waited for.
        closing ??= boss.stop({ graceful: false, close: false }).then(() => pool.end());
        return closing;
      },
    };
  } catch (err) {
    await pool.end();
    throw err;
  }
}
