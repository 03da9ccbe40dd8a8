/** The `outpaint` command as a process: help, keys, configuration errors, first start. */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { api, runCli, startServer, stopServer, tempDataDir, token } from './support/outpaint-process.js';

function outpaint(args: string[], env: Record<string, string> = {}, cwd?: string) {
  return runCli(args, { env: { ...process.env, ...env }, cwd });
}

test('every command has --help', async () => {
  for (const args of [
    ['--help'],
    ['serve', '--help'],
    ['keys', '--help'],
    ['keys', 'create', '--help'],
    ['keys', 'list', '--help'],
    ['keys', 'revoke', '--help'],
    ['token', '--help'],
    ['expand', '--help'],
  ]) {
    const r = await outpaint(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /Usage: outpaint/);
  }
});

test('keys create --json, list and revoke work on the data directory', async (t) => {
  const data = await tempDataDir();
  t.after(() => data.cleanup());
  const env = { OUTPAINT_DATA_DIR: data.dir };
  const created = await outpaint(['keys', 'create', '--name', 'alice', '--json'], env);
  assert.equal(created.code, 0, created.stderr);
  const key = JSON.parse(created.stdout);
  assert.deepEqual(Object.keys(key).sort(), ['access_key', 'secret_key', 'webhook_secret']);
  assert.match(key.access_key, /^[A-Za-z0-9]{32}$/);
  assert.match(key.webhook_secret, /^whsec_/);

  const listed = JSON.parse((await outpaint(['keys', 'list', '--json'], env)).stdout);
  assert.equal(listed.length, 1);
  assert.equal(listed[0].access_key, key.access_key);
  assert.equal(listed[0].name, 'alice');
  assert.ok(!JSON.stringify(listed).includes(key.secret_key), 'list never shows secrets');

  assert.equal((await outpaint(['keys', 'revoke', key.access_key], env)).code, 0);
  const again = await outpaint(['keys', 'revoke', key.access_key], env);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /no live key/);
  assert.equal(JSON.parse((await outpaint(['keys', 'list', '--json'], env)).stdout)[0].revoked_at !== null, true);
});

test('a bad setting stops serve with a message naming it', async (t) => {
  const data = await tempDataDir();
  t.after(() => data.cleanup());
  const r = await outpaint(['serve'], { OUTPAINT_DATA_DIR: data.dir, OUTPAINT_PORT: 'eighty' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /OUTPAINT_PORT=eighty/);
});

test('the first start creates a key and prints it once; the next start does not', async (t) => {
  const data = await tempDataDir();
  t.after(() => data.cleanup());
  const env = { OUTPAINT_DATA_DIR: data.dir, OUTPAINT_PORT: '0', OUTPAINT_WORKERS: '1' };
  const first = await startServer(env);
  assert.equal(await stopServer(first), 0);
  assert.match(first.stderr(), /secret key: +[A-Za-z0-9]{32}/);
  assert.match(first.stderr(), /keys create --name/);
  const second = await startServer(env);
  assert.equal(await stopServer(second), 0);
  assert.doesNotMatch(second.stderr(), /secret key/);
});

test('keys made and revoked with the CLI take effect on a running server (they live in its database)', async (t) => {
  const data = await tempDataDir();
  t.after(() => data.cleanup());
  const env = { OUTPAINT_DATA_DIR: data.dir, OUTPAINT_PORT: '0', OUTPAINT_WORKERS: '1' };
  const server = await startServer(env);
  t.after(() => stopServer(server));
  const key = JSON.parse((await outpaint(['keys', 'create', '--name', 'late', '--json'], env)).stdout);
  const ok = await api(server.url, 'GET', '/v1/images/editing/expand', await token(key));
  assert.equal(ok.status, 200, 'a key created while the server runs works at once');
  assert.equal((await outpaint(['keys', 'revoke', key.access_key], env)).code, 0);
  // A token the server has not seen yet is checked against the database: refused at once.
  const refused = await api(server.url, 'GET', '/v1/images/editing/expand', await token(key, 600));
  assert.deepEqual([refused.status, refused.body.code], [401, 1002]);
  assert.match(refused.body.message, /revoked/);
});
test('keys list and revoke refuse where there is no database, say where they looked, and create nothing', async (t) => {
  const data = await tempDataDir();
  t.after(() => data.cleanup());
  // As a user who runs it in the wrong folder: the default ./data of a folder with no database.
  const db = path.join(data.dir, 'data', 'outpaint.db');
  for (const args of [['keys', 'list'], ['keys', 'list', '--json'], ['keys', 'revoke', 'AK']]) {
    const r = await outpaint(args, { OUTPAINT_DATA_DIR: '' }, data.dir);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.ok(r.stderr.includes(`SQLite database ${db} does not exist, so it holds no keys`), r.stderr);
    assert.match(r.stderr, /OUTPAINT_DATA_DIR/);
  }
  assert.deepEqual(await fs.readdir(data.dir), [], 'no database, no folder made');
});

test('keys create says where it stored the key, and that the database is new; list says where it read', async (t) => {
  const data = await tempDataDir();
  t.after(() => data.cleanup());
  const env = { OUTPAINT_DATA_DIR: path.join(data.dir, 'here') };
  const where = `SQLite database ${path.join(data.dir, 'here', 'outpaint.db')}`;
  const first = await outpaint(['keys', 'create', '--name', 'alice'], env);
  assert.equal(first.code, 0, first.stderr);
  assert.ok(first.stdout.includes(`stored in:      ${where} (new: there was no database`), first.stdout);
  const second = await outpaint(['keys', 'create', '--name', 'bob', '--json'], env);
  assert.equal(second.code, 0, second.stderr);
  JSON.parse(second.stdout);
  assert.equal(second.stderr, `outpaint: key stored in ${where}\n`, 'not new the second time');

  const listed = await outpaint(['keys', 'list'], env);
  assert.equal(listed.code, 0, listed.stderr);
  const lines = listed.stdout.trim().split('\n');
  assert.equal(lines[0], `2 keys in ${where}:`);
  assert.match(lines[1], /^ {2}[A-Za-z0-9]{32} {2}alice {2}acct_/);
  assert.equal(lines.length, 3);
  const json = await outpaint(['keys', 'list', '--json'], env);
  assert.equal(JSON.parse(json.stdout).length, 2);
  assert.equal(json.stderr, `outpaint: 2 keys in ${where}\n`);

  for (const k of JSON.parse(json.stdout)) assert.equal((await outpaint(['keys', 'revoke', k.access_key], env)).code, 0);
  const none = await outpaint(['keys', 'list'], env);
  assert.match(none.stdout, /REVOKED/);
});

test('keys list of an existing database without keys says so, and where', async (t) => {
  const data = await tempDataDir();
  t.after(() => data.cleanup());
  // A database that exists but holds no key (the storage creates it empty; a server would add its first key).
  const { openStorage } = await import('../src/storage/open.js');
  const storage = await openStorage({ dataDir: data.dir });
  await storage.close();
  const r = await outpaint(['keys', 'list'], { OUTPAINT_DATA_DIR: data.dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `no keys in SQLite database ${path.join(data.dir, 'outpaint.db')}; make one with: outpaint keys create --name NAME\n`);
});
