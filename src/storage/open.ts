/** Picks the storage for a configuration: today the embedded one (SQLite and the local disk). */
import type { Config } from '../config.js';
import { openEmbeddedStorage } from './embedded.js';
import type { OpenOptions, Storage } from './storage.js';

/** With `create: false`, refuses (StorageNotFoundError, naming where it looked) when there is no database yet. */
export async function openStorage(
  config: Pick<Config, 'dataDir'> & Partial<Pick<Config, 'minFreeBytes'>>,
  options: OpenOptions = {},
): Promise<Storage> {
  return openEmbeddedStorage(config.dataDir, { ...options, minFreeBytes: config.minFreeBytes });
}
