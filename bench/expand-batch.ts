/**
 * In-process expansion of many cases, for the quality benchmark (bench/quality-configs.py): one Node process,
 * so each case's time is the engine's (decode and encode excluded, timed apart), not process start-up.
 *   node dist/bench/expand-batch.js JOBS.json
 * JOBS.json: [{ "input": "a.png", "output": "a-out.png", "up": 0, "down": 0, "left": 0.5, "right": 0.5, "seed": 1 }, …]
 * Prints one JSON line per job: { output, engineSeconds, totalSeconds }.
 * OUTPAINT_ENGINE_OVERRIDES (JSON, EngineOverrides) and OUTPAINT_QUALITY apply to every job: for sweeps only.
 */
import fs from 'node:fs';
import sharp from 'sharp';
import { expand, type EngineOverrides } from '../src/engine/index.js';
import type { QualityPreset } from '../src/engine/types.js';

interface Job {
  input: string;
  output: string;
  up: number;
  down: number;
  left: number;
  right: number;
  seed: number;
}

const jobs = JSON.parse(fs.readFileSync(process.argv[2], 'utf8')) as Job[];
const overrides = JSON.parse(process.env.OUTPAINT_ENGINE_OVERRIDES ?? '{}') as EngineOverrides;
const quality = (process.env.OUTPAINT_QUALITY ?? 'balanced') as QualityPreset;

for (const job of jobs) {
  const t0 = performance.now();
  const { data, info } = await sharp(job.input).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const t1 = performance.now();
  const out = expand(
    { data, width: info.width, height: info.height, channels: 3 },
    { up: job.up, down: job.down, left: job.left, right: job.right },
    { seed: job.seed, quality, overrides },
  );
  const t2 = performance.now();
  await sharp(out.data, { raw: { width: out.width, height: out.height, channels: 3 } }).png({ compressionLevel: 1 }).toFile(job.output);
  const t3 = performance.now();
  console.log(JSON.stringify({ output: job.output, engineSeconds: (t2 - t1) / 1000, totalSeconds: (t3 - t0) / 1000 }));
}
