/** Picks the storage for a configuration: today the embedded one (SQLite and the local disk). */
import type { Config } from '../config.js';
import { openEmbeddedStorage } from './embedded.js';
import type { Storage } from './storage.js';

export async function openStorage(config: Pick<Config, 'dataDir'> & Partial<Pick<Config, 'minFreeBytes'>>): Promise<Storage> {
  return openEmbeddedStorage(config.dataDir, { minFreeBytes: config.minFreeBytes });
}
