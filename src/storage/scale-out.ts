/**
 * The scale-out storage: every API node and worker on one PostgreSQL database (tasks, pg-boss's job
 * queue, callbacks, keys, the result-link signing key, rate-limit counts), chosen by
 * OUTPAINT_DATABASE_URL. Blobs in S3 when they are handed over (OUTPAINT_S3_BUCKET), else in the data
 * directory (dataDir/blobs, which then must be shared by every node).
 */
import type { Config } from '../config.js';
import { assembleStorage, type EmbeddedOptions } from './embedded.js';
import { openPostgresBackend } from './postgres/index.js';
import type { Storage } from './storage.js';

// The database's disk is PostgreSQL's to watch (a full one answers 53100); local blobs' is ours.
export async function openScaleOutStorage(
  config: { databaseUrl: string } & Pick<Config, 'dataDir'>,
  options: EmbeddedOptions = {},
): Promise<Storage> {
  const database = await openPostgresBackend(config.databaseUrl, { create: options.create });
  return assembleStorage(database, config.dataDir, options, { secrets: database.secrets, rateCounter: database.rateCounter });
}
