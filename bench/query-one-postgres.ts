/**
 * Query-one req/s on the embedded storage against PostgreSQL + pg-boss, in one run (issue 6's target:
 * PostgreSQL ≥ 0.5× embedded). Runs bench/query-one-ab.ts on this checkout twice over, the second server
 * with OUTPAINT_DATABASE_URL on a fresh schema, dropped afterwards.
 *
 * Usage: npm run build && node dist/bench/query-one-postgres.js [--seconds 24] [--rounds 4]
 *   PostgreSQL: OUTPAINT_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test. Needs wrk.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freshSchema } from '../test/support/postgres.js';

const AB = fileURLToPath(new URL('./query-one-ab.js', import.meta.url));
const CHECKOUT = fileURLToPath(new URL('../..', import.meta.url));

const schema = await freshSchema();
try {
  const child = spawn(
    process.execPath,
    [AB, ...process.argv.slice(2), `embedded=${CHECKOUT}`, `postgres=${CHECKOUT}@OUTPAINT_DATABASE_URL=${schema.url}`],
    { stdio: 'inherit' },
  );
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  process.exitCode = code;
} finally {
  await schema.drop();
}
