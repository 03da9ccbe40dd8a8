/**
 * The scale-out storage: every API node and worker on one PostgreSQL database (tasks, pg-boss's job
 * queue, callbacks, keys, the result-link signing key, rate-limit counts), chosen by
 * OUTPAINT_DATABASE_URL. Blobs stay in the data directory (dataDir/blobs) until an S3 bucket is set.
 */
import path from 'node:path';
import type { Config } from '../config.js';
import { DiskBlobStore } from './local/index.js';
import { diskSpaceGuard } from './local/disk-space.js';
import { openPostgresBackend } from './postgres/index.js';
import type { OpenOptions, Storage } from './storage.js';

export async function openScaleOutStorage(
  config: { databaseUrl: string } & Pick<Config, 'dataDir'> & Partial<Pick<Config, 'minFreeBytes'>>,
  options: OpenOptions = {},
): Promise<Storage> {
  const database = await openPostgresBackend(config.databaseUrl, { create: options.create });
  const blobsDir = path.join(config.dataDir, 'blobs');
  const blobs = new DiskBlobStore(blobsDir);
  return {
    tasks: database.tasks,
    queue: database.queue,
    outbox: database.outbox,
    keys: database.keys,
    location: database.location,
    blobs,
    secrets: database.secrets,
    rateCounter: database.rateCounter,
    // The database's disk is PostgreSQL's to watch (a full one answers 53100); the blobs' is ours.
    space: diskSpaceGuard([config.dataDir, blobsDir], config.minFreeBytes ?? 0),
    async close() {
      await Promise.all([database.close(), blobs.close()]);
    },
  };
}
