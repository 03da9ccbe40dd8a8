/**
 * The embedded database backend: tasks, their jobs, the callback outbox and the API keys in one SQLite
 * file, on one shared connection. The SQL lives in schema.ts (DDL) and statements.ts (queries).
 */
import path from 'node:path';
import type { DatabaseBackend } from '../storage.js';
import { SqliteCallbackOutbox } from './callback-outbox.js';
import { SharedConnection } from './connection.js';
import { SqliteJobQueue } from './job-queue.js';
import { SqliteKeyStore } from './key-store.js';
import { DATABASE_FILE, openDatabase } from './schema.js';
import { SqliteTaskStore } from './task-store.js';

export { DATABASE_FILE, MIGRATIONS } from './schema.js';
export { SqliteCallbackOutbox, SqliteJobQueue, SqliteKeyStore, SqliteTaskStore };

export interface SqliteBackend extends DatabaseBackend {
  tasks: SqliteTaskStore;
  queue: SqliteJobQueue;
  outbox: SqliteCallbackOutbox;
  keys: SqliteKeyStore;
  /** The database file's path. */
  file: string;
}

/** Opens `dataDir/outpaint.db` (created and migrated as needed). */
export function openSqliteBackend(dataDir: string): SqliteBackend {
  const file = path.join(dataDir, DATABASE_FILE);
  const connection = new SharedConnection(openDatabase(file));
  const ports = {
    tasks: new SqliteTaskStore(connection),
    queue: new SqliteJobQueue(connection),
    outbox: new SqliteCallbackOutbox(connection),
    keys: new SqliteKeyStore(connection),
  };
  return {
    ...ports,
    file,
    location: `SQLite database ${file}`,
    async close() {
      await Promise.all(Object.values(ports).map((p) => p.close()));
    },
  };
}
