/**
 * Disk full, through the real server process, on small tmpfs file systems the test mounts (it needs
 * root, and fails when it cannot mount): creates are refused 503 / 5001 with a clear message (below the
 * OUTPAINT_MIN_FREE_MB floor, and on a disk that is really full), a running job whose results cannot be
 * stored is handed back (its attempt not counted) instead of leaving half files, no result link ever
 * points at a truncated file, and the server recovers by itself when space comes back.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import sharp from 'sharp';
import { api, createKeys, startServer, stopServer, tempDataDir, token, waitFor, type ServerProcess } from './support/outpaint-process.js';
import { scenePng } from './support/pictures.js';

const EXPAND = '/v1/images/editing/expand';

/** Mounts a tmpfs of `megabytes` at `dir`; returns the unmount. */
function mountTmpfs(dir: string, megabytes: number): () => void {
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m`, 'tmpfs', dir]);
  return () => execFileSync('umount', ['-l', dir]);
}

/** Stops the server, unmounts, removes the data directory: in this order. */
function cleanUp(t: TestContext, server: ServerProcess, unmount: () => void, data: { cleanup: () => Promise<void> }): void {
  t.after(async () => {
    await stopServer(server, 'SIGKILL');
    unmount();
    await data.cleanup();
  });
}

/** Fills the file system of `dir` with one file, leaving `leaveBytes` free (0: until ENOSPC). */
function fill(dir: string, leaveBytes = 0): string {
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  try {
    for (const size of [1 << 20, 1 << 12]) {
      const chunk = Buffer.alloc(size, 1);
      for (;;) {
        const s = fs.statfsSync(dir);
        if (leaveBytes > 0 && s.bavail * s.bsize - size < leaveBytes) break;
        try {
          fs.writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return filler;
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join((e as fs.Dirent & { parentPath: string }).parentPath, e.name)));
}

const logLines = (stdout: string) => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));

test('a data directory below OUTPAINT_MIN_FREE_MB refuses creates with 5001 and takes them again once space is back', async (t) => {
  const data = await tempDataDir();
  const dir = path.join(data.dir, 'small');
  const unmount = mountTmpfs(dir, 64);
  const keys = await createKeys(dir);
  const server = await startServer({ OUTPAINT_DATA_DIR: dir, OUTPAINT_PORT: '0', OUTPAINT_WORKERS: '1', OUTPAINT_QUALITY: 'fast', OUTPAINT_MIN_FREE_MB: '8' });
  cleanUp(t, server, unmount, data);
  const bearer = await token(keys);
  const image = (await scenePng(480, 360, 1)).toString('base64');
  const create = () => api(server.url, 'POST', EXPAND, bearer, { image, left_expansion_ratio: 0.5 });
  assert.equal((await create()).status, 200);

  const filler = fill(dir, 4 * 1024 * 1024);
  await new Promise((r) => setTimeout(r, 1100)); // the guard reads the disk at most every second
  const res = await fetch(server.url + EXPAND, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: JSON.stringify({ image, left_expansion_ratio: 0.5 }),
  });
  const body = (await res.json()) as { code: number; message: string };
  assert.deepEqual([res.status, body.code, body.message], [503, 5001, "the server's storage is full; retry later"]);
  assert.equal(res.headers.get('retry-after'), '30');
  assert.equal((await api(server.url, 'GET', '/healthz', null)).status, 200);
  const logged = await waitFor('the refusal in the log', async () =>
    logLines(server.stdout()).find((l) => l.msg === 'request refused' && l.code === 5001),
  );
  assert.equal(logged.level, 50);
  assert.match(logged.cause, /MB free on .*, below the 8 MB kept free \(OUTPAINT_MIN_FREE_MB\)/);
  assert.equal(logged.err, undefined);

  fs.rmSync(filler);
  const back = await waitFor('creates to be taken again', async () => {
    const again = await create();
    return again.status === 200 ? again : null;
  }, 5000);
  assert.equal(back.body.code, 0);
});

test('a full disk: creates refused 5001, the running job handed back without half files, then it succeeds by itself', { timeout: 120_000 }, async (t) => {
  const data = await tempDataDir();
  const keys = await createKeys(data.dir);
  // Blobs on their own small volume, really full (no floor): every write there fails with ENOSPC.
  const blobs = path.join(data.dir, 'blobs');
  const unmount = mountTmpfs(blobs, 16);
  const server = await startServer({
    OUTPAINT_DATA_DIR: data.dir,
    OUTPAINT_PORT: '0',
    OUTPAINT_WORKERS: '1',
    OUTPAINT_QUALITY: 'balanced',
    OUTPAINT_MIN_FREE_MB: '0',
    // A retry that counted as an attempt would fail the task.
    OUTPAINT_JOB_MAX_ATTEMPTS: '1',
  });
  cleanUp(t, server, unmount, data);
  const bearer = await token(keys);
  const create = async (seed: number) =>
    api(server.url, 'POST', EXPAND, bearer, { image: (await scenePng(800, 600, seed)).toString('base64'), left_expansion_ratio: 1, right_expansion_ratio: 1, n: 2 });
  const query = async (id: string) => (await api(server.url, 'GET', `${EXPAND}/${id}`, bearer)).body.data;

  const running = await create(1);
  assert.equal(running.status, 200, JSON.stringify(running.body));
  const id = running.body.data.task_id;
  await waitFor('the task to run', async () => (await query(id)).task_status === 'processing');
  const filler = fill(blobs);

  const refused = await create(2);
  assert.deepEqual([refused.status, refused.body.code, refused.body.message], [503, 5001, "the server's storage is full; retry later"]);

  // The engine finishes, the results cannot be stored: the job is handed back and claiming pauses.
  await waitFor('the runner to find the disk full', async () =>
    logLines(server.stdout()).some((l) => l.msg.startsWith('storage full: no new job') && /ENOSPC/.test(l.cause)),
  90_000);
  const meanwhile = await query(id);
  assert.equal(meanwhile.task_status, 'processing');
  assert.deepEqual(meanwhile.task_result.images, []);
  // Nothing half-written stays behind: no temp file, no committed result, no result data without its sidecar.
  assert.deepEqual(filesUnder(path.join(blobs, 'tmp')), []);
  assert.deepEqual(filesUnder(path.join(blobs, 'meta', 'results')), []);
  assert.deepEqual(filesUnder(path.join(blobs, 'data', 'results')), []);

  fs.rmSync(filler);
  const done = await waitFor('the task to finish once there is room', async () => {
    const q = await query(id);
    return ['succeed', 'failed'].includes(q.task_status) ? q : null;
  }, 90_000);
  assert.equal(done.task_status, 'succeed', done.task_status_msg);
  assert.equal(done.task_result.images.length, 2);
  for (const { url } of done.task_result.images) {
    const file = await fetch(url);
    assert.equal(file.status, 200);
    const png = Buffer.from(await file.arrayBuffer());
    // Whole: it decodes to the last row.
    const { info } = await sharp(png, { failOn: 'truncated' }).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [2400, 600]);
  }
  assert.equal((await create(3)).status, 200);
});
