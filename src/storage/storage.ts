import type { BlobLinks, BlobStore } from './blob-store.js';
import type { CallbackOutbox } from './callback-outbox.js';
import type { JobQueue } from './job-queue.js';
import type { KeyStore } from './key-store.js';
import type { RateCounter } from './rate-counter.js';
import type { SecretStore } from './secret-store.js';
import type { SpaceGuard } from './space.js';
import type { TaskStore } from './task-store.js';

/**
 * One database backend: the task store, its job queue, the callback outbox and the keys, on one
 * database, because they share transactions (a task is created with its job and its first callback; a
 * status change is recorded with its callback).
 */
export interface DatabaseBackend {
  tasks: TaskStore;
  queue: JobQueue;
  outbox: CallbackOutbox;
  keys: KeyStore;
  /** Where the data lives, for people: e.g. "SQLite database /srv/outpaint/data/outpaint.db". */
  location: string;
  /**
   * Resolves when the database takes a write now (for readiness): a real committed write of a row kept
   * for the purpose, not a read. Rejects with the database's error when not.
   */
  checkWritable(): Promise<void>;
  close(): Promise<void>;
}

/** Options of opening a backend. */
export interface OpenOptions {
  /** Create (and migrate) the database if there is none yet; default true. False: StorageNotFoundError. */
  create?: boolean;
}

/** Asked to open existing storage (`create: false`) where there is none. */
export class StorageNotFoundError extends Error {
  constructor(readonly location: string) {
    super(`no Outpaint database: ${location} does not exist`);
    this.name = 'StorageNotFoundError';
  }
}

/**
 * Blobs opened apart from the database (S3 when OUTPAINT_S3_BUCKET is set): a backend given these uses
 * them instead of its own and closes them with the storage.
 */
export interface SeparateBlobs {
  store: BlobStore;
  /** For people: e.g. "S3 bucket outpaint (AWS)". */
  location: string;
  /** Links straight to the blobs, when result links are to be presigned. */
  links: BlobLinks | null;
}

/** Storage that does not answer at start (an S3 bucket missing, unreachable or refusing the credentials). */
export class StorageUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageUnavailableError';
  }
}

/** Everything Outpaint keeps, as `openStorage(config)` chose it: a database backend, blobs and shared state. */
export interface Storage extends DatabaseBackend {
  blobs: BlobStore;
  /** Where the blobs live, for people: e.g. "directory /srv/outpaint/data/blobs", "S3 bucket outpaint (AWS)". */
  blobsLocation: string;
  /** Links straight to the blobs (presigned S3 URLs) when configured so; null: the API serves result files. */
  blobLinks: BlobLinks | null;
  /** Secrets every node shares (the result-link signing key). */
  secrets: SecretStore;
  /** Request counts behind the rate limit. */
  rateCounter: RateCounter;
  /** Whether there is room to take more work (creates, new jobs); UNLIMITED_SPACE without a disk of its own. */
  space: SpaceGuard;
  /** Closes everything; call after the job runner and the callback dispatcher have stopped. */
  close(): Promise<void>;
}
