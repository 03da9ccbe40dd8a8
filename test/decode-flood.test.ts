/**
 * Memory under decode floods, through the real server process: 50 truncated PNGs that declare 6300×6300
 * are refused from their chunk layout, and 50 crafted ones (whole chunks, broken data: only a full decode
 * finds out) are decoded within OUTPAINT_DECODE_MEMORY_MB; the server's peak RSS stays within a stated
 * bound, /healthz stays fast and valid tasks sent meanwhile succeed. The figures are printed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { api, createKeys, startServer, stopServer, tempDataDir, token, waitFor } from './support/outpaint-process.js';
import { craftedPng, flatPng, truncatedPng } from './support/hostile-images.js';
import { scenePng } from './support/pictures.js';

const EXPAND = '/v1/images/editing/expand';
/** Peak RSS may rise above the idle server's by at most the decode budget (256 MB) and this much. */
const SLACK_MB = 96;

/** VmRSS and VmHWM (the peak since start) of a process, in MB. */
function memory(pid: number): { rss: number; peak: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]);
  return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

test('50 hostile 6300×6300 PNGs at once: bounded RSS, /healthz fast, valid tasks succeed', { timeout: 180_000 }, async (t) => {
  const data = await tempDataDir();
  t.after(() => data.cleanup());
  const keys = await createKeys(data.dir);
  const server = await startServer({
    OUTPAINT_DATA_DIR: data.dir,
    OUTPAINT_PORT: '0',
    OUTPAINT_WORKERS: '1',
    OUTPAINT_QUALITY: 'fast',
    OUTPAINT_RATE_LIMIT: '100000',
    OUTPAINT_ACCOUNT_CONCURRENCY: '1000',
  });
  t.after(() => stopServer(server, 'SIGKILL'));
  const pid = server.child.pid!;
  const bearer = await token(keys);
  const create = (image: Buffer) => api(server.url, 'POST', EXPAND, bearer, { image: image.toString('base64'), left_expansion_ratio: 0.5 });
  const succeeded = (id: string) =>
    waitFor(`task ${id}`, async () => {
      const q = await api(server.url, 'GET', `${EXPAND}/${id}`, bearer);
      return ['succeed', 'failed'].includes(q.body.data.task_status) ? q.body.data : null;
    }, 120_000);

  // Warm up (sharp, the engine thread, the database) with one valid task, then take the idle RSS.
  const warm = await create(await scenePng(480, 360, 1));
  assert.equal(warm.status, 200, JSON.stringify(warm.body));
  assert.equal((await succeeded(warm.body.data.task_id)).task_status, 'succeed');
  await new Promise((r) => setTimeout(r, 500));
  const idle = memory(pid);

  const png = await flatPng(6300);
  const floods = { truncated: truncatedPng(png), crafted: craftedPng(png) };
  const valid = await Promise.all([2, 3, 4].map((seed) => scenePng(480, 360, seed)));
  const health: number[] = [];
  let probing = true;
  const prober = (async () => {
    while (probing) {
      const started = performance.now();
      const res = await fetch(server.url + '/healthz');
      await res.arrayBuffer();
      health.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();

  const results: Record<string, { ms: number; codes: Set<string> }> = {};
  let validIds: string[] = [];
  for (const [name, image] of Object.entries(floods)) {
    const started = performance.now();
    const [answers, validAnswers] = await Promise.all([
      Promise.all(Array.from({ length: 50 }, () => create(image))),
      // Valid tasks sent while the flood is judged.
      name === 'crafted'
        ? new Promise((r) => setTimeout(r, 50)).then(() => Promise.all(valid.map(create)))
        : Promise.resolve([]),
    ]);
    results[name] = { ms: Math.round(performance.now() - started), codes: new Set(answers.map((a) => `${a.status} ${a.body.code} ${a.body.message}`)) };
    for (const v of validAnswers) assert.equal(v.status, 200, JSON.stringify(v.body));
    validIds = validIds.concat(validAnswers.map((v) => v.body.data.task_id));
  }
  probing = false;
  await prober;
  const after = memory(pid);
  for (const id of validIds) assert.equal((await succeeded(id)).task_status, 'succeed');

  const rise = after.peak - idle.rss;
  const p99 = percentile(health, 99);
  t.diagnostic(
    `RSS idle ${idle.rss} MB (peak so far ${idle.peak}); after the floods ${after.rss} MB, peak ${after.peak} MB (+${rise} MB); ` +
      `truncated ×50 judged in ${results.truncated.ms} ms, crafted ×50 in ${results.crafted.ms} ms; ` +
      `/healthz ${health.length} probes: p50 ${percentile(health, 50).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...health).toFixed(1)} ms`,
  );
  assert.deepEqual([...results.truncated.codes], ['400 1201 image: is a truncated PNG file (it ends before its IEND chunk)']);
  assert.deepEqual([...results.crafted.codes], ['400 1201 image: is a corrupt or truncated PNG file']);
  assert.ok(rise <= 256 + SLACK_MB, `peak RSS rose ${rise} MB over idle (${idle.rss} MB): more than the 256 MB budget + ${SLACK_MB} MB`);
  assert.ok(p99 < 250, `/healthz p99 ${p99.toFixed(1)} ms`);
});
