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
import { diskSpaceGuard } from './local/disk-space.js';
import type { DatabaseBackend, OpenOptions, SeparateBlobs, Storage } from './storage.js';

export interface EmbeddedOptions extends OpenOptions {
  /** The free space below which `space` reports a shortage (0, the default: never). */
  minFreeBytes?: number;
  /** Blobs kept elsewhere (S3) instead of dataDir/blobs. */
  blobs?: SeparateBlobs | null;
}

/** `create: false` refuses (StorageNotFoundError) when there is no database yet. */
export function openEmbeddedStorage(dataDir: string, options: EmbeddedOptions = {}): Storage {
  const database = openSqliteBackend(dataDir, { create: options.create });
  return assembleStorage(database, dataDir, options, { secrets: new FileSecretStore(dataDir), rateCounter: new MemoryRateCounter() });
}

/**
 * A database backend with its blobs (S3 when handed over, else dataDir/blobs) and shared state: the one
 * assembly both backends use. The space guard watches the data directory, and the local blobs' file
 * system too (a volume may be mounted at blobs/); blobs elsewhere take no room here.
 */
export function assembleStorage(
  database: DatabaseBackend,
  dataDir: string,
  options: EmbeddedOptions,
  shared: Pick<Storage, 'secrets' | 'rateCounter'>,
): Storage {
  const blobsDir = path.join(dataDir, 'blobs');
  const blobs = options.blobs?.store ?? new DiskBlobStore(blobsDir);
  return {
    tasks: database.tasks,
    queue: database.queue,
    outbox: database.outbox,
    keys: database.keys,
    location: database.location,
    checkWritable: () => database.checkWritable(),
    blobs,
    blobsLocation: options.blobs?.location ?? `directory ${blobsDir}`,
    blobLinks: options.blobs?.links ?? null,
    ...shared,
    space: diskSpaceGuard(options.blobs ? [dataDir] : [dataDir, blobsDir], options.minFreeBytes ?? 0),
    async close() {
      await Promise.all([database.close(), blobs.close()]);
    },
  };
}
