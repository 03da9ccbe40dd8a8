/**
 * GET /readyz through the real server process: the parts the process has (database writable, blob store
 * writable, engine pool up), 503 / 5001 naming each failing part when the data directory is made
 * read-only and while the server drains on SIGTERM; an API-only process lists no engine. /healthz stays 200 throughout (liveness, no storage).
 *
 * Read-only, for real: the tests run as root, for whom chmod stops nothing, so the data directory, the
 * database and its WAL, and the blobs' temp folder are made immutable (`chattr +i`, ext4 and most
 * file systems): every write, root's included, then fails (EPERM), through the server's open file
 * descriptors too. (The WAL index, -shm, is left alone: it is memory-mapped, and an immutable mapping
 * kills the process with SIGBUS.) The test fails, not skips, where chattr is unavailable.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { api, createKeys, startRole, startServer, stopServer, tempDataDir, token, waitFor, type ServerProcess } from './support/outpaint-process.js';
import { scenePng } from './support/pictures.js';

const EXPAND = '/v1/images/editing/expand';

async function readyz(url: string): Promise<{ status: number; body: any }> {
  return api(url, 'GET', '/readyz', null);
}

describe('GET /readyz', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function serve(env: Record<string, string> = {}, role?: 'api'): Promise<{ server: ServerProcess; dataDir: string }> {
    const data = await tempDataDir();
    cleanups.push(() => data.cleanup());
    const settings = { OUTPAINT_DATA_DIR: data.dir, OUTPAINT_PORT: '0', OUTPAINT_WORKERS: '1', ...env };
    const server = role ? await startRole(role, settings) : await startServer(settings);
    cleanups.push(() => stopServer(server, 'SIGKILL'));
    return { server, dataDir: data.dir };
  }

  it('lists the database, the blobs and the engine (serve runs both roles)', async () => {
    const { server } = await serve({ OUTPAINT_WORKERS: '2' });
    const ready = await waitFor('ready', async () => {
      const r = await readyz(server.url);
      return r.status === 200 ? r.body : null;
    }, 30_000);
    assert.deepEqual(ready.data, { status: 'ready', parts: { database: 'ok', blobs: 'ok', engine: 'ok' } });
  });

  it('an API-only process lists the parts it has: no engine', async () => {
    const { server } = await serve({}, 'api');
    const res = await readyz(server.url);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.data.parts, { database: 'ok', blobs: 'ok' });
  });

  it('503 naming the database and the blobs when the data directory is made read-only; ready again after', async () => {
    const { server, dataDir } = await serve();
    await waitFor('ready', async () => (await readyz(server.url)).status === 200, 30_000);
    const immutable = [dataDir, path.join(dataDir, 'outpaint.db'), path.join(dataDir, 'outpaint.db-wal'), path.join(dataDir, 'blobs', 'tmp')];
    const writable = () => execFileSync('chattr', ['-i', ...immutable]);
    cleanups.push(async () => writable());
    execFileSync('chattr', ['+i', ...immutable]);
    const refused = await waitFor('not ready', async () => {
      const r = await readyz(server.url);
      return r.status === 503 ? r.body : null;
    }, 10_000);
    assert.equal(refused.code, 5001);
    assert.match(refused.message, /^not ready: database: not writable \(SQLITE_IOERR\w*\); blobs: not writable \(EPERM\)$/);
    assert.equal((await api(server.url, 'GET', '/healthz', null)).status, 200);
    await waitFor('the log line, with its cause', async () => /"part":"database","problem":"not writable \(SQLITE_IOERR\w*\)","cause":"[^"]+","msg":"not ready"/.test(server.stdout()), 5000);

    writable();
    const again = await waitFor('ready again', async () => {
      const r = await readyz(server.url);
      return r.status === 200 ? r.body : null;
    }, 10_000);
    assert.deepEqual(again.data.parts, { database: 'ok', blobs: 'ok', engine: 'ok' });
  });

  it('503 naming the server while it drains on SIGTERM (a connection still open asks)', { timeout: 60_000 }, async () => {
    const { server, dataDir } = await serve({ OUTPAINT_SHUTDOWN_GRACE_S: '60', OUTPAINT_QUALITY: 'balanced' });
    const keys = await createKeys(dataDir, 'drain');
    const bearer = await token(keys);
    const created = await api(server.url, 'POST', EXPAND, bearer, {
      image: (await scenePng(600, 400, 5)).toString('base64'),
      left_expansion_ratio: 1,
      n: 3,
    });
    assert.equal(created.status, 200);
    await waitFor('the task to be processing', async () => {
      const q = await api(server.url, 'GET', `${EXPAND}/${created.body.data.task_id}`, bearer);
      return q.body.data.task_status === 'processing';
    });

    // A request in flight when SIGTERM comes (its body not all sent yet), then /readyz on the same
    // connection: the server is draining, its port already closed to new connections.
    const socket = net.connect({ port: Number(new URL(server.url).port), host: '127.0.0.1' });
    let answered = '';
    socket.on('data', (d: Buffer) => (answered += d.toString()));
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('connect', resolve));
    const body = '{"image":"x"}';
    socket.write(
      `POST ${EXPAND} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${keys.secret_key}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
    );
    await new Promise((r) => setTimeout(r, 200));
    server.child.kill('SIGTERM');
    await waitFor('the drain to begin', async () => /SIGTERM: finishing running jobs/.test(server.stderr()), 5000);
    await waitFor('the port to close', async () => {
      try {
        await fetch(`${server.url}/healthz`);
        return false;
      } catch {
        return true;
      }
    }, 5000);
    socket.write(`${body.slice(5)}GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n`);
    await waitFor('both answers', async () => (answered.match(/HTTP\/1\.1 /g) ?? []).length === 2 && answered.trimEnd().endsWith('}'), 10_000);
    socket.destroy();
    const [, second] = answered.split(/(?=HTTP\/1\.1 )/);
    assert.match(second, /^HTTP\/1\.1 503 /);
    const json = JSON.parse(second.slice(second.indexOf('\r\n\r\n') + 4));
    assert.equal(json.code, 5001);
    assert.match(json.message, /^not ready: server: shutting down$/);
    assert.equal(server.child.exitCode, null, 'still draining: the job runs on');
  });
});
