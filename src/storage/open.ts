/**
 * Picks the storage for a configuration, one choice per part:
 *   blobs      S3 when OUTPAINT_S3_BUCKET is set (result links presigned when OUTPAINT_S3_RESULT_LINKS
 *              says so), else the database backend's own: the local disk (DATA_DIR/blobs)
 *   database   PostgreSQL + pg-boss when OUTPAINT_DATABASE_URL is set (the scale-out storage), else the
 *              embedded SQLite database in DATA_DIR; either is handed the blobs chosen above
 */
import type { Config } from '../config.js';
import { openEmbeddedStorage } from './embedded.js';
import { describeS3, openS3BlobStore } from './s3/index.js';
import { openScaleOutStorage } from './scale-out.js';
import type { OpenOptions, SeparateBlobs, Storage } from './storage.js';

export type StorageConfig = Pick<Config, 'dataDir'> & Partial<Pick<Config, 'minFreeBytes' | 's3' | 'databaseUrl'>>;

/** With `create: false`, refuses (StorageNotFoundError, naming where it looked) when there is no database yet. */
export async function openStorage(config: StorageConfig, options: OpenOptions = {}): Promise<Storage> {
  const blobs = await openBlobs(config);
  try {
    const opts = { ...options, minFreeBytes: config.minFreeBytes, blobs };
    if (config.databaseUrl) return await openScaleOutStorage({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }, opts);
    return openEmbeddedStorage(config.dataDir, opts);
  } catch (err) {
    await blobs?.store.close();
    throw err;
  }
}

/** Blobs kept elsewhere than the data directory, or null for the database backend's own (the local disk). */
async function openBlobs(config: StorageConfig): Promise<SeparateBlobs | null> {
  if (!config.s3) return null;
  const store = await openS3BlobStore(config.s3);
  const links = config.s3.resultLinks === 'presigned' ? await store.presignedLinks() : null;
  return { store, location: describeS3(config.s3), links };
}
