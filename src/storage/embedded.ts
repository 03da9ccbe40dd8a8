/**
 * The embedded storage: everything in one data directory, nothing else to run.
 *   dataDir/outpaint.db        tasks, jobs, callback outbox, API keys (SQLite)
 *   dataDir/blobs/             input images and results
 *   dataDir/url-signing.key    the result-link signing key
 * Rate-limit counts are kept in the process's memory.
 */
import path from 'node:path';
import { DiskBlobStore, FileSecretStore, MemoryRateCounter } from './local/index.js';
import { openSqliteBackend } from './sqlite/index.js';
import type { Storage } from './storage.js';

export function openEmbeddedStorage(dataDir: string): Storage {
  const database = openSqliteBackend(dataDir);
  const blobs = new DiskBlobStore(path.join(dataDir, 'blobs'));
  return {
    tasks: database.tasks,
    queue: database.queue,
    outbox: database.outbox,
    keys: database.keys,
    location: database.location,
    blobs,
    secrets: new FileSecretStore(dataDir),
    rateCounter: new MemoryRateCounter(),
    async close() {
      await Promise.all([database.close(), blobs.close()]);
    },
  };
}
