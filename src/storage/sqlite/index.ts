/**
 * The embedded database backend: tasks, their jobs, the callback outbox and the API keys in one SQLite
 * file, on one shared connection. The SQL lives in schema.ts (DDL) and statements.ts (queries).
 */
import fs from 'node:fs';
import path from 'node:path';
import { StorageNotFoundError, type DatabaseBackend, type OpenOptions } from '../storage.js';
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

/** Opens `dataDir/outpaint.db` (migrated as needed; created too unless `create` is false). */
export function openSqliteBackend(dataDir: string, { create = true }: OpenOptions = {}): SqliteBackend {
  const file = path.join(dataDir, DATABASE_FILE);
  const location = `SQLite database ${file}`;
  if (!create && !fs.existsSync(file)) throw new StorageNotFoundError(location);
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
    location,
    async checkWritable() {
      connection.sql.probeWrite.run();
    },
    async close() {
      await Promise.all(Object.values(ports).map((p) => p.close()));
    },
  };
}
