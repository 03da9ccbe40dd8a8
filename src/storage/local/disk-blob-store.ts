/**
 * Blobs as files under a root directory:
 *   data/<key>        the bytes
 *   meta/<key>.json   content type and expiry (the sidecar); its presence commits the blob
 *   tmp/              files being written, renamed into place when complete
 * Keeping data and sidecars in separate trees means no key can collide with another key's sidecar.
 */
import { randomUUID } from 'node:crypto';
import type { Dirent } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { checkBlobKey } from '../blob-key.js';
import type { Blob, BlobMeta, BlobStore } from '../blob-store.js';

/** Leftovers of a crashed put (temp files, data without a sidecar) older than this are swept. */
const ORPHAN_AGE_MS = 60 * 60 * 1000;

interface Sidecar {
  contentType: string;
  expiresAt: number | null;
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

async function unlinkIfPresent(file: string): Promise<boolean> {
  try {
    await fs.unlink(file);
    return true;
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
}

/** Makes a rename inside `dir` durable. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Every regular file under `dir`, as paths relative to it; empty when `dir` does not exist. */
async function walkFiles(dir: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true, recursive: true });
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
  // `parentPath` is Node 20.12+; `path` is its older, deprecated name.
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join((e as Dirent & { parentPath?: string }).parentPath ?? e.path, e.name)));
}

export class DiskBlobStore implements BlobStore {
  private readonly dataDir: string;
  private readonly metaDir: string;
  private readonly tmpDir: string;

  constructor(readonly rootDir: string) {
    this.dataDir = path.join(rootDir, 'data');
    this.metaDir = path.join(rootDir, 'meta');
    this.tmpDir = path.join(rootDir, 'tmp');
  }

  private dataPath(key: string): string {
    return path.join(this.dataDir, ...key.split('/'));
  }

  private metaPath(key: string): string {
    return path.join(this.metaDir, ...key.split('/')) + '.json';
  }

  /** Writes `bytes` to a temp file, flushes it to disk, then renames it over `target`. */
  private async writeAtomically(target: string, bytes: Uint8Array): Promise<void> {
    await fs.mkdir(this.tmpDir, { recursive: true });
    const tmp = path.join(this.tmpDir, `${randomUUID()}.tmp`);
    try {
      const handle = await fs.open(tmp, 'wx');
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.rename(tmp, target);
    } catch (err) {
      await unlinkIfPresent(tmp);
      throw err;
    }
    await syncDirectory(path.dirname(target));
  }

  /**
   * The data goes in first and the sidecar last: a reader finds a blob only through its sidecar, so it
   * sees the whole blob or none. (Overwriting an existing key shows the new bytes under the old sidecar
   * for a moment; keys are written once in practice.)
   */
  async put(key: string, data: Uint8Array, meta: BlobMeta): Promise<void> {
    checkBlobKey(key);
    const sidecar: Sidecar = { contentType: meta.contentType, expiresAt: meta.expiresAt };
    await this.writeAtomically(this.dataPath(key), data);
    try {
      await this.writeAtomically(this.metaPath(key), Buffer.from(JSON.stringify(sidecar)));
    } catch (err) {
      // Uncommitted data is invisible, but on a full disk its space is wanted back now, not at the sweep.
      await unlinkIfPresent(this.dataPath(key)).catch(() => undefined);
      throw err;
    }
  }

  async get(key: string): Promise<Blob | null> {
    checkBlobKey(key);
    const meta = await this.readSidecar(key);
    if (!meta || isExpired(meta, Date.now())) return null;
    try {
      const data = await fs.readFile(this.dataPath(key));
      return { data, contentType: meta.contentType, expiresAt: meta.expiresAt };
    } catch (err) {
      if (isMissing(err)) return null; // deleted between the two reads
      throw err;
    }
  }

  /** Removing the sidecar first un-commits the blob, so no reader sees it half-deleted. */
  async delete(key: string): Promise<void> {
    checkBlobKey(key);
    await unlinkIfPresent(this.metaPath(key));
    await unlinkIfPresent(this.dataPath(key));
  }

  async sweepExpired(now: number): Promise<number> {
    let deleted = 0;
    const live = new Set<string>();
    for (const rel of await walkFiles(this.metaDir)) {
      if (!rel.endsWith('.json')) continue;
      const key = rel.slice(0, -'.json'.length).split(path.sep).join('/');
      const meta = await this.readSidecar(key);
      if (meta && isExpired(meta, now)) {
        await this.delete(key);
        deleted++;
      } else {
        live.add(key);
      }
    }
    await this.sweepOrphans(live, now);
    return deleted;
  }

  /** A small file written, flushed and removed where puts write first (tmp/). */
  async checkWritable(): Promise<void> {
    await fs.mkdir(this.tmpDir, { recursive: true });
    const probe = path.join(this.tmpDir, `ready-${randomUUID()}.probe`);
    try {
      const handle = await fs.open(probe, 'wx');
      try {
        await handle.writeFile('ok');
        await handle.sync();
      } finally {
        await handle.close();
      }
    } finally {
      await unlinkIfPresent(probe).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    // Nothing held open between calls.
  }

  /** Temp files and sidecar-less data left by a put that crashed half-way. */
  private async sweepOrphans(liveKeys: Set<string>, now: number): Promise<void> {
    const cutoff = now - ORPHAN_AGE_MS;
    const removeIfOld = async (file: string): Promise<void> => {
      try {
        if ((await fs.stat(file)).mtimeMs < cutoff) await unlinkIfPresent(file);
      } catch (err) {
        if (!isMissing(err)) throw err;
      }
    };
    for (const rel of await walkFiles(this.tmpDir)) await removeIfOld(path.join(this.tmpDir, rel));
    for (const rel of await walkFiles(this.dataDir)) {
      const key = rel.split(path.sep).join('/');
      if (!liveKeys.has(key)) await removeIfOld(path.join(this.dataDir, rel));
    }
  }

  private async readSidecar(key: string): Promise<Sidecar | null> {
    let text: string;
    try {
      text = await fs.readFile(this.metaPath(key), 'utf8');
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
    return JSON.parse(text) as Sidecar;
  }
}

function isExpired(meta: Sidecar, now: number): boolean {
  return meta.expiresAt !== null && meta.expiresAt <= now;
}
