/**
 * The separate processes, through the real CLI: `outpaint serve --no-workers` (the API alone) and
 * `outpaint worker` (no HTTP port) on one data directory (SQLite in WAL mode across processes). A task
 * created over HTTP is done by the worker process, its callbacks delivered by it; with no worker it stays
 * submitted; SIGTERM stops a worker gracefully.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  api,
  createKeys,
  freePort,
  runCli,
  startServer,
  startWorker,
  stopServer,
  tempDataDir,
  token,
  waitFor,
  type Keys,
  type ServerProcess,
} from './support/outpaint-process.js';
import { scenePng } from './support/pictures.js';
import { startReceiver, type Receiver } from './support/receiver.js';

const EXPAND = '/v1/images/editing/expand';

describe('outpaint serve --no-workers + outpaint worker on one data directory', () => {
  let data: { dir: string; cleanup: () => Promise<void> };
  let keys: Keys;
  let bearer: string;
  let receiver: Receiver;
  let apiServer: ServerProcess;
  let env: Record<string, string>;
  let image: string;
  let leftSubmitted: string;

  before(async () => {
    data = await tempDataDir();
    keys = await createKeys(data.dir, 'split');
    bearer = await token(keys);
    receiver = await startReceiver(keys.webhook_secret);
    image = (await scenePng(400, 300, 3)).toString('base64');
    // The worker signs the links in the callbacks it sends: both must know the API's public address.
    const port = await freePort();
    env = {
      OUTPAINT_DATA_DIR: data.dir,
      OUTPAINT_PORT: String(port),
      OUTPAINT_PUBLIC_URL: `http://127.0.0.1:${port}`,
      OUTPAINT_ALLOW_PRIVATE_HOSTS: '127.0.0.1',
      OUTPAINT_WORKERS: '1',
      OUTPAINT_QUALITY: 'fast',
    };
    apiServer = await startServer(env, ['--no-workers']);
  });
  after(async () => {
    await stopServer(apiServer);
    await receiver.close();
    await data.cleanup();
  });

  async function create(extra: Record<string, unknown> = {}): Promise<string> {
    const res = await api(apiServer.url, 'POST', EXPAND, bearer, { image, left_expansion_ratio: 0.5, ...extra });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.data.task_id;
  }
  const query = async (id: string) => (await api(apiServer.url, 'GET', `${EXPAND}/${id}`, bearer)).body.data;

  it('says it runs no engines, and leaves a task submitted while no worker runs', async () => {
    const banner = await waitFor('the banner', async () => /\n {2}data /.test(apiServer.stderr()) && apiServer.stderr(), 5000);
    assert.match(banner, /engines {8}none here \(--no-workers\)/);
    assert.match(banner, /files {10}directory .*\/blobs\n/);
    const id = await create();
    leftSubmitted = id;
    await new Promise((r) => setTimeout(r, 3000));
    const task = await query(id);
    assert.equal(task.task_status, 'submitted');
    assert.equal(task.task_progress, 0);
  });

  it('a worker process does the task and delivers its callbacks; it picks up new tasks within its poll', async () => {
    const worker = await startWorker(env);
    try {
      assert.equal(worker.url, env.OUTPAINT_PUBLIC_URL);
      assert.match(worker.stderr(), /Outpaint worker running: 1 engine thread \(OUTPAINT_WORKERS\), no HTTP port/);
      // The task left submitted before is done first; then the worker idles, polling.
      await waitFor('the task left submitted', async () => (await query(leftSubmitted)).task_status === 'succeed', 60_000);
      await new Promise((r) => setTimeout(r, 1500));
      const started = Date.now();
      const id = await create({ callback_url: receiver.url, external_task_id: 'split-1' });
      const processing = await waitFor('processing', async () => (await query(id)).task_status !== 'submitted' && Date.now(), 20_000);
      const pickupMs = processing - started;
      process.stderr.write(`worker picked the task up ${pickupMs} ms after it was created (idle poll 1 s)\n`);
      assert.ok(pickupMs < 3000, `picked up after ${pickupMs} ms`);
      const done = await waitFor('succeed', async () => {
        const t = await query(id);
        return t.task_status === 'succeed' && t;
      }, 60_000);
      const link = done.task_result.images[0].url as string;
      assert.ok(link.startsWith(`${apiServer.url}/v1/files/results/`), link);
      const png = await fetch(link);
      assert.equal(png.status, 200);
      assert.equal(png.headers.get('content-type'), 'image/png');
      assert.deepEqual([...new Uint8Array(await png.arrayBuffer()).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
      // The API process has no dispatcher: every callback (submitted included) came from the worker.
      const final = await waitFor('the succeed callback', async () => receiver.received.find((r) => r.body.task_status === 'succeed'), 20_000);
      assert.equal(final.body.task_id, id);
      assert.equal(final.body.task_info.external_task_id, 'split-1');
      assert.equal(final.body.task_result.images[0].url, link, 'the callback carries the same link, signed by the worker');
      assert.deepEqual(
        [...new Set(receiver.received.filter((r) => r.body.task_id === id).map((r) => r.body.task_status))],
        ['submitted', 'processing', 'succeed'],
      );
    } finally {
      assert.equal(await stopServer(worker), 0);
    }
    assert.match(worker.stderr(), /SIGTERM: finishing running jobs/);
  });

  it('SIGTERM lets a running job finish (or hands it back) and exits 0; the next worker finishes the rest', async () => {
    const worker = await startWorker(env);
    const ids = [await create({ n: 2 }), await create({ n: 2 })];
    await waitFor('a job running', async () => (await query(ids[0])).task_status === 'processing', 20_000);
    assert.equal(await stopServer(worker), 0);
    const next = await startWorker(env);
    try {
      for (const id of ids) {
        const t = await waitFor(`task ${id}`, async () => {
          const task = await query(id);
          return task.task_status !== 'submitted' && task.task_status !== 'processing' && task;
        }, 90_000);
        assert.equal(t.task_status, 'succeed', JSON.stringify(t));
      }
    } finally {
      await stopServer(next);
    }
  });
});

describe('outpaint worker and serve refuse bad storage settings, naming them', () => {
  it('exits 2 for a bad S3 setting and 1 for a bucket that does not answer, before any work', async () => {
    const data = await tempDataDir();
    try {
      const base = { ...process.env, OUTPAINT_DATA_DIR: data.dir, OUTPAINT_PORT: '0' };
      const badLinks = await runCli(['worker'], { env: { ...base, OUTPAINT_S3_BUCKET: 'outpaint', OUTPAINT_S3_RESULT_LINKS: 'direct' } });
      assert.equal(badLinks.code, 2);
      assert.match(badLinks.stderr, /OUTPAINT_S3_RESULT_LINKS=direct: expected proxied or presigned/);
      const badBucket = await runCli(['serve', '--no-workers'], { env: { ...base, OUTPAINT_S3_BUCKET: 'Not_A_Bucket' } });
      assert.equal(badBucket.code, 2);
      assert.match(badBucket.stderr, /OUTPAINT_S3_BUCKET=Not_A_Bucket: expected an S3 bucket name/);
      const badPrefix = await runCli(['worker'], { env: { ...base, OUTPAINT_S3_BUCKET: 'outpaint', OUTPAINT_S3_PREFIX: 'a/../b' } });
      assert.equal(badPrefix.code, 2);
      assert.match(badPrefix.stderr, /OUTPAINT_S3_PREFIX=a\/\.\.\/b/);
      // Nothing listens on this port: the start fails, naming the bucket and the endpoint.
      const port = await freePort();
      const unreachable = await runCli(['worker'], {
        env: {
          ...base,
          OUTPAINT_S3_BUCKET: 'outpaint',
          OUTPAINT_S3_ENDPOINT: `http://127.0.0.1:${port}`,
          OUTPAINT_S3_FORCE_PATH_STYLE: 'true',
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'x',
          AWS_SECRET_ACCESS_KEY: 'y',
          AWS_MAX_ATTEMPTS: '1',
        },
      });
      assert.equal(unreachable.code, 1);
      assert.match(unreachable.stderr, new RegExp(`S3 bucket outpaint \\(http://127\\.0\\.0\\.1:${port}\\)`));
      assert.doesNotMatch(unreachable.stderr, /worker running|    at /, 'a message, not a stack');
    } finally {
      await data.cleanup();
    }
  });
});
