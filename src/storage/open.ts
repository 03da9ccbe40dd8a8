/** Picks the storage backend for a configuration: today the embedded one (SQLite and the local disk). */
import type { Config } from '../config.js';
import { openEmbeddedStorage, type Storage } from './index.js';

export type { Storage };

export async function openStorage(config: Pick<Config, 'dataDir'>): Promise<Storage> {
  return openEmbeddedStorage(config.dataDir);
}
