/**
 * The figures behind docs/scale-out.md's S3 estimate:
 *
 * 1. bytes per task: one real task (an input, n = 1 and n = 4, balanced quality) through `outpaint
 *    serve` on S3 blobs (s3rver), read back from the bucket listing: input + result object sizes;
 * 2. S3 PUT and GET throughput with objects of the result's size, 1 and 8 requests in flight, through the
 *    same S3BlobStore the server uses (AWS SDK v3, SigV4) against s3rver on loopback: a floor for one
 *    node's client-side cost, not a figure for AWS S3 (whose per-prefix limits are in the doc).
 *
 * Run after `npm run build`: `node dist/bench/s3-throughput.js` (take the benchmark lock: flock
 * /tmp/outpaint-bench.lock …). Prints one line per figure.
 */
import { randomBytes } from 'node:crypto';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { openS3BlobStore } from '../src/storage/s3/index.js';
import { api, createKeys, startServer, stopServer, tempDataDir, token, waitFor } from '../test/support/outpaint-process.js';
import { sceneJpeg } from '../test/support/pictures.js';
import { S3_REGION, S3RVER_CREDENTIALS, startS3Server } from '../test/support/s3-server.js';

const EXPAND = '/v1/images/editing/expand';
const MB = 1024 * 1024;

const s3 = await startS3Server();
process.env.AWS_REGION = S3_REGION;
process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;

try {
  // 1. Bytes per task.
  const bucket = await s3.createBucket('bench-bytes');
  const data = await tempDataDir();
  const keys = await createKeys(data.dir);
  const server = await startServer({ ...s3.env(bucket), OUTPAINT_DATA_DIR: data.dir, OUTPAINT_PORT: '0', OUTPAINT_WORKERS: '1' });
  let resultBytes = 0;
  try {
    const bearer = await token(keys);
    const input = await sceneJpeg(1024, 768, 4);
    for (const n of [1, 4]) {
      const res = await api(server.url, 'POST', EXPAND, bearer, { image: input.toString('base64'), left_expansion_ratio: 0.5, right_expansion_ratio: 0.5, n });
      const id = res.body.data.task_id as string;
      const task = await waitFor('succeed', async () => {
        const t = (await api(server.url, 'GET', `${EXPAND}/${id}`, bearer)).body.data;
        return t.task_status === 'succeed' && t;
      }, 120_000);
      const listed = await s3.client().send(new ListObjectsV2Command({ Bucket: bucket }));
      const mine = (listed.Contents ?? []).filter((o) => o.Key!.includes(id));
      const inBytes = mine.filter((o) => o.Key!.startsWith('inputs/')).reduce((a, o) => a + (o.Size ?? 0), 0);
      const outBytes = mine.filter((o) => o.Key!.startsWith('results/')).reduce((a, o) => a + (o.Size ?? 0), 0);
      resultBytes = Math.round(outBytes / n);
      console.log(
        `bytes per task (1024x768 JPEG in, 2048x768 PNG out, n=${n}): input ${(inBytes / MB).toFixed(2)} MB, results ${(outBytes / MB).toFixed(2)} MB ` +
          `(${(resultBytes / MB).toFixed(2)} MB each); S3 traffic per task ≈ ${((inBytes * 2 + outBytes) / MB).toFixed(2)} MB + ${(outBytes / MB).toFixed(2)} MB per download; ` +
          `created → succeed ${((task.updated_at - task.created_at) / 1000).toFixed(2)} s on 1 engine thread`,
      );
    }
  } finally {
    await stopServer(server);
    await data.cleanup();
  }

  // 2. PUT / GET throughput at the result's size.
  const store = await openS3BlobStore({ bucket: await s3.createBucket('bench-tp'), endpoint: s3.endpoint, forcePathStyle: true, prefix: '', resultLinks: 'proxied' });
  const body = randomBytes(resultBytes);
  for (const inFlight of [1, 8]) {
    for (const op of ['put', 'get'] as const) {
      const until = performance.now() + 4000;
      const started = performance.now();
      let done = 0;
      let next = 0;
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (performance.now() < until) {
            const key = `tp/${inFlight}/${next++ % 64}.png`;
            if (op === 'put') await store.put(key, body, { contentType: 'image/png', expiresAt: null });
            else if (!(await store.get(key))) await store.put(key, body, { contentType: 'image/png', expiresAt: null });
            done++;
          }
        }),
      );
      const s = (performance.now() - started) / 1000;
      console.log(
        `s3rver ${op.toUpperCase()} ${(body.length / MB).toFixed(2)} MB objects, ${inFlight} in flight: ${(done / s).toFixed(1)} req/s, ${((done * body.length) / MB / s).toFixed(1)} MB/s`,
      );
    }
  }
  await store.close();
} finally {
  await s3.close();
}
