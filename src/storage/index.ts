/**
 * The embedded storage: everything in one data directory, nothing else to run.
 *   dataDir/outpaint.db   tasks, jobs, callback outbox, API keys (SQLite)
 *   dataDir/blobs/        input images and results
 */
import path from 'node:path';
import type { BlobStore } from './blob-store.js';
import type { JobQueue } from './job-queue.js';
import { DiskBlobStore } from './local/index.js';
import { openSqliteBackend } from './sqlite/index.js';
import type { TaskStore } from './task-store.js';

export interface Storage {
  tasks: TaskStore;
  queue: JobQueue;
  blobs: BlobStore;
  /** Closes all three; call after the job runner and the callback dispatcher have stopped. */
  close(): Promise<void>;
}

export function openEmbeddedStorage(dataDir: string): Storage {
  const backend = openSqliteBackend(dataDir);
  const blobs = new DiskBlobStore(path.join(dataDir, 'blobs'));
  return {
    tasks: backend.tasks,
    queue: backend.queue,
    blobs,
    async close() {
      await Promise.all([backend.close(), blobs.close()]);
    },
  };
}
