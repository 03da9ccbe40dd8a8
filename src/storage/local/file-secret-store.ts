import { randomUUID } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SecretStore } from '../secret-store.js';

const NAME = /^[a-z0-9-]+$/;

/** Secrets as `<dir>/<name>.key` files (hex, mode 0600); e.g. url-signing.key. */
export class FileSecretStore implements SecretStore {
  constructor(private readonly dir: string) {}

  async getOrCreate(name: string, create: () => Buffer): Promise<Buffer> {
    if (!NAME.test(name)) throw new Error(`secret name ${JSON.stringify(name)}: expected [a-z0-9-]+`);
    const file = path.join(this.dir, `${name}.key`);
    const existing = await readSecret(file);
    if (existing) return existing;
    await mkdir(this.dir, { recursive: true });
    // Written whole to a temp file, then linked into place: link fails if another process got there
    // first, and then its secret is the one everybody uses.
    const tmp = path.join(this.dir, `.${name}.${randomUUID()}.tmp`);
    await writeFile(tmp, create().toString('hex') + '\n', { mode: 0o600 });
    try {
      await link(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
    const stored = await readSecret(file);
    if (!stored) throw new Error(`${file} does not hold a secret (expected at least 64 hex digits)`);
    return stored;
  }
}

async function readSecret(file: string): Promise<Buffer | null> {
  try {
    const hex = (await readFile(file, 'utf8')).trim();
    return /^[0-9a-f]{64,}$/.test(hex) ? Buffer.from(hex, 'hex') : null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
