/**
 * Picks the storage for a configuration: PostgreSQL + pg-boss when OUTPAINT_DATABASE_URL is set (the
 * scale-out storage), else the embedded one (SQLite and the local disk).
 */
import type { Config } from '../config.js';
import { openEmbeddedStorage } from './embedded.js';
import { openScaleOutStorage } from './scale-out.js';
import type { OpenOptions, Storage } from './storage.js';

/** With `create: false`, refuses (StorageNotFoundError, naming where it looked) when there is no database yet. */
export async function openStorage(
  config: Pick<Config, 'dataDir'> & Partial<Pick<Config, 'minFreeBytes' | 'databaseUrl'>>,
  options: OpenOptions = {},
): Promise<Storage> {
  if (config.databaseUrl) return openScaleOutStorage({ ...config, databaseUrl: config.databaseUrl }, options);
  return openEmbeddedStorage(config.dataDir, { ...options, minFreeBytes: config.minFreeBytes });
}
