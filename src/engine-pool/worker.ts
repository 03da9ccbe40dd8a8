/**
 * Worker-thread entry of the engine pool (compiled to dist/src/engine-pool/worker.js). One task = one
 * result of a job, or the helper of a result that two threads share (the pool's split last result). The
 * input pixels arrive as a view on shared memory (no copy per worker); the output's buffer is moved back
 * to the parent, not copied.
 */
import os from 'node:os';
import type { MessagePort } from 'node:worker_threads';
import { move, workerData } from 'piscina';
import { finalizeRows, prepare, Synthesis, synthesize, type PreparedExpansion } from '../engine/index.js';
import type { ExpansionRatios, QualityPreset } from '../engine/types.js';
import { DONE, finishWith, HelperLink, HelperService, HelperState, runLevelWith, type HelperRequest } from './helper.js';

export interface ResultTask {
  kind: 'result';
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
  /** For a shared result: the port to its helper task, and their handshake (see HelperState). */
  helper?: { port: MessagePort; state: Int32Array };
}

export interface HelpTask {
  kind: 'help';
  port: MessagePort;
  state: Int32Array;
}

export type WorkerTask = ResultTask | HelpTask;

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

export default function runTask(task: WorkerTask): unknown {
  return task.kind === 'help' ? help(task) : result(task);
}

function result(task: ResultTask): unknown {
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
  const options = { signal, onProgress: (p: { done: number }) => Atomics.store(task.progress, task.index, p.done) };
  if (!task.helper) return move(synthesize(cached.prepared, task.seed, options).data);
  return shared(new Synthesis(cached.prepared, task.seed, options), task.helper);
}

/**
 * A result whose helper task may or may not get the other thread: each level goes to the helper once it
 * has joined, else it runs here, and the bytes are the same either way.
 */
async function shared(run: Synthesis, helper: { port: MessagePort; state: Int32Array }): Promise<unknown> {
  const link = new HelperLink(helper.port);
  const joined = (): boolean => Atomics.load(helper.state, 0) === HelperState.Joined;
  // The helper's thread died (the pool saw its task fail): whatever waits on it fails. A port closed by
  // a dying thread does not always say so on this end.
  const watch = setInterval(() => {
    if (Atomics.load(helper.state, 0) === HelperState.Gone) link.failAll(new Error('the helper thread of a shared result stopped'));
  }, 100);
  try {
    while (!run.optimised) {
      if (joined()) await runLevelWith(run, link);
      else run.runLevel();
    }
    if (joined()) return move((await finishWith(run, link)).data);
    const input = run.finalInput();
    return move(run.finish(finalizeRows(input, 0, input.height, run.cancelCheck)).data);
  } finally {
    clearInterval(watch);
    // A helper that has not started yet finds it is not needed; one that has is told to stop.
    Atomics.store(helper.state, 0, HelperState.Finished);
    helper.port.postMessage(DONE);
    helper.port.close();
  }
}

async function help(task: HelpTask): Promise<null> {
  if (Atomics.compareExchange(task.state, 0, HelperState.Waiting, HelperState.Joined) === HelperState.Waiting) {
    const service = new HelperService();
    let watch: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      task.port.on('message', (req: HelperRequest | typeof DONE) => {
        if (req === DONE) resolve();
        else service.answer(req, task.port);
      });
      // The result's thread died before saying it is done: the pool marks the result finished.
      watch = setInterval(() => {
        if (Atomics.load(task.state, 0) === HelperState.Finished) resolve();
      }, 100);
    });
    clearInterval(watch);
  }
  task.port.close();
  return null;
}
