/**
 * The scale-out storage: every API node and worker on one PostgreSQL database (tasks, pg-boss's job
 * queue, callbacks, keys, the result-link signing key, rate-limit counts), chosen by
 * OUTPAINT_DATABASE_URL. Blobs in S3 when they are handed over (OUTPAINT_S3_BUCKET), else in the data
 * directory (dataDir/blobs, which then must be shared by every node).
 */
import path from 'node:path';
import type { Config } from '../config.js';
import type { EmbeddedOptions } from './embedded.js';
import { DiskBlobStore } from './local/index.js';
import { diskSpaceGuard } from './local/disk-space.js';
import { openPostgresBackend } from './postgres/index.js';
import type { Storage } from './storage.js';

export async function openScaleOutStorage(
  config: { databaseUrl: string } & Pick<Config, 'dataDir'>,
  options: EmbeddedOptions = {},
): Promise<Storage> {
  const database = await openPostgresBackend(config.databaseUrl, { create: options.create });
  const blobsDir = path.join(config.dataDir, 'blobs');
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
    secrets: database.secrets,
    rateCounter: database.rateCounter,
    // The database's disk is PostgreSQL's to watch (a full one answers 53100); local blobs' is ours.
    space: diskSpaceGuard(options.blobs ? [config.dataDir] : [config.dataDir, blobsDir], options.minFreeBytes ?? 0),
    async close() {
      await Promise.all([database.close(), blobs.close()]);
    },
  };
}
