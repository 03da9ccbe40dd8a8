/** The `outpaint` command as a process: help, keys, configuration errors, first start. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { api, CLI, startServer, stopServer, tempDataDir, token } from './support/outpaint-process.js';

const run = promisify(execFile);

async function outpaint(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err: any) {
    return { code: err.code as number, stdout: err.stdout as string, stderr: err.stderr as string };
  }
}

test('every command has --help', async () => {
  for (const args of [
    ['--help'],
    ['serve', '--help'],
    ['keys', '--help'],
    ['keys', 'create', '--help'],
    ['keys', 'list', '--help'],
    ['keys', 'revoke', '--help'],
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