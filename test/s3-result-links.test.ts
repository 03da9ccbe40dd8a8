/**
 * Outpaint on S3 blobs through HTTP, as processes: a task runs to succeed and its result link downloads
 * the PNG, with links proxied through the API (`outpaint serve`) and with presigned S3 URLs (`outpaint
 * serve --no-workers` beside an `outpaint worker`, so both processes make links). The files are in the
 * bucket, none in the data directory.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import {
  api,
  createKeys,
  freePort,
  startServer,
  startWorker,
  stopServer,
  tempDataDir,
  token,
  waitFor,
  type ServerProcess,
} from './support/outpaint-process.js';
import { scenePng } from './support/pictures.js';
import { startReceiver, type Receiver } from './support/receiver.js';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from './support/s3-server.js';
import { presignedSignatureIsValid } from './support/sigv4.js';

const EXPAND = '/v1/images/editing/expand';
const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47];

let s3: S3TestServer;
before(async () => {
  s3 = await startS3Server();
});
after(async () => {
  await s3.close();
});

interface Deployment {
  url: string;
  bearer: string;
  dataDir: string;
  bucket: string;
  receiver: Receiver;
  processes: ServerProcess[];
  close(): Promise<void>;
}

async function deploy(mode: 'proxied' | 'presigned', split: boolean, extraEnv: Record<string, string> = {}): Promise<Deployment> {
  const data = await tempDataDir();
  const keys = await createKeys(data.dir);
  const bucket = await s3.createBucket(`links-${mode}`);
  const port = await freePort();
  const env = {
    ...s3.env(bucket),
    OUTPAINT_S3_RESULT_LINKS: mode,
    OUTPAINT_DATA_DIR: data.dir,
    OUTPAINT_PORT: String(port),
    OUTPAINT_PUBLIC_URL: `http://127.0.0.1:${port}`,
    OUTPAINT_ALLOW_PRIVATE_HOSTS: '127.0.0.1',
    OUTPAINT_WORKERS: '1',
    OUTPAINT_QUALITY: 'fast',
    ...extraEnv,
  };
  const processes = split ? [await startServer(env, ['--no-workers']), await startWorker(env)] : [await startServer(env)];
  const receiver = await startReceiver(keys.webhook_secret);
  return {
    url: processes[0].url,
    bearer: await token(keys),
    dataDir: data.dir,
    bucket,
    receiver,
    processes,
    async close() {
      for (const p of processes) await stopServer(p);
      await receiver.close();
      await data.cleanup();
    },
  };
}

/** Creates a task with a callback and waits for it to succeed; returns the task and its succeed callback. */
async function runTask(d: Deployment) {
  const image = (await scenePng(400, 300, 7)).toString('base64');
  const created = await api(d.url, 'POST', EXPAND, d.bearer, { image, left_expansion_ratio: 0.5, n: 2, callback_url: d.receiver.url });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const id = created.body.data.task_id as string;
  const task = await waitFor('succeed', async () => {
    const t = (await api(d.url, 'GET', `${EXPAND}/${id}`, d.bearer)).body.data;
    assert.notEqual(t.task_status, 'failed', JSON.stringify(t));
    return t.task_status === 'succeed' && t;
  }, 90_000);
  const callback = await waitFor('the succeed callback', async () => d.receiver.received.find((r) => r.body.task_id === id && r.body.task_status === 'succeed'), 30_000);
  return { id, task, callback: callback.body };
}

async function downloadPng(link: string): Promise<Buffer> {
  const res = await fetch(link);
  assert.equal(res.status, 200, `${link}: ${res.status} ${await res.clone().text()}`);
  assert.equal(res.headers.get('content-type'), 'image/png');
  const bytes = Buffer.from(await res.arrayBuffer());
  assert.deepEqual([...bytes.subarray(0, 4)], PNG_MAGIC);
  return bytes;
}

async function bucketKeys(bucket: string): Promise<string[]> {
  const listed = await s3.client().send(new ListObjectsV2Command({ Bucket: bucket }));
  return (listed.Contents ?? []).map((o) => o.Key!).sort();
}

describe('S3 blobs, result links proxied through the API (outpaint serve)', () => {
  let d: Deployment;
  before(async () => {
    d = await deploy('proxied', false);
  });
  after(async () => {
    await d?.close();
  });

  it('stores the input and the results in the bucket and serves them through signed API links', async () => {
    assert.match(d.processes[0].stderr(), new RegExp(`files {10}S3 bucket ${d.bucket} \\(${s3.endpoint}\\)\\n`));
    const { id, task, callback } = await runTask(d);
    assert.equal(task.task_result.images.length, 2);
    for (const image of task.task_result.images) {
      assert.ok(image.url.startsWith(`${d.url}/v1/files/results/${id}/`), image.url);
      await downloadPng(image.url);
    }
    assert.deepEqual(callback.task_result.images.map((i: { url: string }) => i.url), task.task_result.images.map((i: { url: string }) => i.url));
    assert.deepEqual(await bucketKeys(d.bucket), [`inputs/${id}`, `results/${id}/0.png`, `results/${id}/1.png`]);
    assert.ok(!existsSync(path.join(d.dataDir, 'blobs')), 'no files in the data directory');
  });
});

describe('S3 blobs, presigned result links (serve --no-workers + worker)', () => {
  let d: Deployment;
  before(async () => {
    // One day of result life: links say how much of it is left (below the 7-day cap).
    d = await deploy('presigned', true, { OUTPAINT_RESULT_TTL_DAYS: '1' });
  });
  after(async () => {
    await d?.close();
  });

  it('links are presigned S3 GET URLs valid until the result expires; they download the PNG from S3', async () => {
    const [apiProcess, worker] = d.processes;
    assert.match(apiProcess.stderr(), /result links are presigned S3 URLs/);
    assert.match(worker.stderr(), new RegExp(`result links {3}presigned S3 URLs \\(${s3.endpoint}\\)`));
    const { id, task, callback } = await runTask(d);
    // From the API (query) and from the worker (the callback): both sign for the bucket's objects.
    for (const link of [...task.task_result.images, ...callback.task_result.images].map((i: { url: string }) => i.url)) {
      const url = new URL(link);
      assert.equal(url.origin, s3.endpoint);
      assert.match(url.pathname, new RegExp(`^/${d.bucket}/results/${id}/[01]\\.png$`));
      assert.ok(presignedSignatureIsValid(url, S3RVER_CREDENTIALS.secretAccessKey), link);
      const left = Number(url.searchParams.get('X-Amz-Expires'));
      const until = Date.parse(url.searchParams.get('X-Amz-Date')!.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z')) + left * 1000;
      const resultExpiry = task.updated_at + 86_400_000;
      assert.ok(Math.abs(until - resultExpiry) <= 2000, `link valid until ${new Date(until).toISOString()}, result until ${new Date(resultExpiry).toISOString()}`);
      await downloadPng(link);
    }
    // The same bytes through the API's file route are not offered: the links skip the API.
    assert.ok(!task.task_result.images.some((i: { url: string }) => i.url.startsWith(d.url)));
  });

  it("the web page may load results from the S3 endpoint (its Content-Security-Policy names it)", async () => {
    const res = await fetch(`${d.url}/`);
    assert.equal(res.status, 200);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, new RegExp(`img-src 'self' blob: data: ${s3.endpoint.replace(/[.]/g, '\\.')}`));
    assert.match(csp, new RegExp(`connect-src 'self' ${s3.endpoint.replace(/[.]/g, '\\.')}`));
  });
});
