/**
 * The machine's real PostgreSQL for the scale-out tests: each test gets a schema of its own
 * (outpaint_test_<random>), named in the URL with `?schema=`, and drops it afterwards. Without a
 * reachable server the tests fail, saying so; they never skip.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const POSTGRES_URL = process.env.OUTPAINT_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let reachable: Promise<void> | null = null;

/** Throws, naming the server and the cause, when PostgreSQL cannot be reached. */
export function requirePostgres(): Promise<void> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 5000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
    } catch (err) {
      reachable = null;
      throw new Error(
        `PostgreSQL is not reachable at ${POSTGRES_URL} (${(err as Error).message}): the scale-out tests need the ` +
          "machine's real server (.ci/run starts it; set OUTPAINT_TEST_POSTGRES_URL for another one)",
      );
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return reachable;
}

export interface TestSchema {
  name: string;
  /** OUTPAINT_DATABASE_URL for this schema. */
  url: string;
  /** DROP SCHEMA … CASCADE: Outpaint's tables and pg-boss's. */
  drop(): Promise<void>;
}

/** A new, not yet existing schema (Outpaint creates it on first open). */
export async function freshSchema(): Promise<TestSchema> {
  await requirePostgres();
  const name = `outpaint_test_${randomBytes(6).toString('hex')}`;
  return {
    name,
    url: `${POSTGRES_URL}?schema=${name}`,
    async drop() {
      await sql(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
    },
  };
}

/** One statement on a connection of its own (for looking at what the backend wrote). */
export async function sql<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}
