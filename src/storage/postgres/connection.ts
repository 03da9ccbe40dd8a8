/**
 * The PostgreSQL connection: where OUTPAINT_DATABASE_URL points, which schema it names, and one pool
 * that every port of a backend (and pg-boss) shares.
 */
import pg from 'pg';
import { DATABASE_SCHEMA_NAME } from '../../config.js';

/** The schema used when the URL names none. */
export const DEFAULT_SCHEMA = 'outpaint';

export interface DatabaseTarget {
  /** The URL for `pg`, without our own `schema` parameter. */
  connectionString: string;
  /** Where Outpaint's tables and pg-boss's live (both in one schema, so one DROP SCHEMA removes all). */
  schema: string;
  /** For people: the URL without its password, and the schema. */
  location: string;
}

export class DatabaseUrlError extends Error {}

/**
 * Reads `postgres://user[:password]@host[:port]/database[?schema=name&…]`. `schema` is Outpaint's
 * parameter, removed before the URL reaches `pg`; every other parameter (sslmode, application_name…)
 * is passed on.
 */
export function parseDatabaseUrl(url: string): DatabaseTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DatabaseUrlError(`not a URL: expected postgres://user@host:5432/database[?schema=name]`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new DatabaseUrlError(`${parsed.protocol}// is not PostgreSQL: expected postgres://user@host:5432/database`);
  }
  const schema = parsed.searchParams.get('schema') ?? DEFAULT_SCHEMA;
  if (!DATABASE_SCHEMA_NAME.test(schema)) {
    throw new DatabaseUrlError(`schema=${schema}: expected a lower-case identifier ([a-z_][a-z0-9_]*, at most 63)`);
  }
  parsed.searchParams.delete('schema');
  const shown = new URL(parsed.href);
  if (shown.password) shown.password = '***';
  shown.search = '';
  return { connectionString: parsed.href, schema, location: `PostgreSQL database ${shown.href} (schema ${schema})` };
}

/**
 * bigint (int8) columns come back as numbers: times are Unix milliseconds and counts are small, both
 * far below 2^53. (pg's default is a string, to be safe for values past 2^53.)
 */
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === pg.types.builtins.INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** A pool whose every connection works in `schema` (search_path), so no statement names the schema. */
export function createPool(target: DatabaseTarget, max = 10): pg.Pool {
  // pg lets the URL's parameters win over the config's: an `options` in the URL is merged, not replaced.
  const url = new URL(target.connectionString);
  const options = [url.searchParams.get('options'), `-c search_path=${target.schema}`].filter(Boolean).join(' ');
  url.searchParams.delete('options');
  const pool = new pg.Pool({ connectionString: url.href, options, max, types });
  // An idle connection that breaks (the server restarted) is dropped from the pool; the next query
  // opens a new one. Without a listener the error would crash the process.
  pool.on('error', () => undefined);
  return pool;
}

/** Anything that runs a query: the pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/** Runs `fn` in a transaction on one connection; rolls back when it throws. */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw err;
  } finally {
    // A connection that could not even roll back is closed, not handed to the next caller.
    client.release(broken);
  }
}

/**
 * pg-boss's database interface on one client, so that pg-boss's statements run inside our transaction
 * (its `db` option). pg-boss's fetch() swallows query errors and answers "no job"; `failure` keeps the
 * error so the caller can rethrow it instead of reporting an empty queue.
 */
export function bossDb(client: Queryable): { executeSql(text: string, values?: unknown[]): Promise<{ rows: any[] }>; failure: unknown } {
  const db = {
    failure: undefined as unknown,
    async executeSql(text: string, values?: unknown[]) {
      try {
        return await client.query(text, values);
      } catch (err) {
        db.failure = err;
        throw err;
      }
    },
  };
  return db;
}

/** Base of the port classes: they share the backend's pool, which the backend closes. */
export abstract class PgPort {
  constructor(protected readonly pool: pg.Pool) {}

  async close(): Promise<void> {
    // The pool belongs to the backend: closing one port leaves the others working.
  }
}
