import type pg from 'pg';
import type { SecretStore } from '../secret-store.js';
import { stmt } from './statements.js';

/** Secrets in the shared database, so that every node signs and verifies with the same ones. */
export class PgSecretStore implements SecretStore {
  constructor(private readonly pool: pg.Pool) {}

  async getOrCreate(name: string, create: () => Buffer): Promise<Buffer> {
    const stored = await this.read(name);
    if (stored) return stored;
    // Racing nodes each insert theirs; the first one stays (ON CONFLICT DO NOTHING) and all read it.
    await this.pool.query(stmt('insertSecret', [name, create()]));
    const winner = await this.read(name);
    if (!winner) throw new Error(`secret ${name} was stored but cannot be read back`);
    return winner;
  }

  private async read(name: string): Promise<Buffer | null> {
    const { rows } = await this.pool.query<{ value: Buffer }>(stmt('secretByName', [name]));
    return rows[0]?.value ?? null;
  }
}
