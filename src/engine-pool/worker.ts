/**
 * Worker-thread entry of the engine pool (compiled to dist/src/engine-pool/worker.js). One task = one
 * result of a job. The input pixels arrive as a view on shared memory (no copy per worker); the output's
 * buffer is moved back to the parent, not copied.
 */
import os from 'node:os';
import { move, workerData } from 'piscina';
import { prepare, synthesize, type PreparedExpansion } from '../engine/index.js';
import type { ExpansionRatios, QualityPreset } from '../engine/types.js';

export interface WorkerTask {
  jobId: string;
  index: number;
  seed: number;
  quality: QualityPreset;
  ratios: ExpansionRatios;
  width: number;
  height: number;
  channels: 3 | 4;
  /** The input pixels, on a SharedArrayBuffer. */
  pixels: Uint8Array;
  /** [0] = 1 once the caller aborted. */
  cancelFlag: Int32Array;
  /** Steps done per result, written here and polled by the parent. */
  progress: Int32Array;
}

// A server lowers its engine threads' priority so that the HTTP thread stays responsive while images
// are computed. On Linux a nice value belongs to the calling thread, so this leaves the rest alone.
const niceness = (workerData as { niceness?: number } | undefined)?.niceness ?? 0;
if (niceness !== 0) {
  try {
    os.setPriority(niceness);
  } catch {
    // Not permitted here: run at normal priority.
  }
}

// The seed-independent preparation of the last job this thread saw: the n results of one job usually
// land on the same few threads, so each thread prepares a job once.
let cached: { jobId: string; prepared: PreparedExpansion } | null = null;

export default function runExpansionTask(task: WorkerTask): unknown {
  const signal = {
    get aborted(): boolean {
      return Atomics.load(task.cancelFlag, 0) === 1;
    },
  };
  if (!cached || cached.jobId !== task.jobId) {
    cached = null; // let the previous job's memory go before allocating the next
    const image = { data: task.pixels, width: task.width, height: task.height, channels: task.channels };
    cached = { jobId: task.jobId, prepared: prepare(image, task.ratios, { quality: task.quality }) };
  }
  const result = synthesize(cached.prepared, task.seed, {
    signal,
    onProgress: (p) => Atomics.store(task.progress, task.index, p.done),
  });
  return move(result.data);
}
