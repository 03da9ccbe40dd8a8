/**
 * One result on two threads, for a caller with a single result and a free core (the CLI's `-n 1`): while
 * this thread optimises the coarser levels, a helper thread builds the look-alike graphs (most of the
 * seed-independent preparation), each just ahead of the level that needs it; at the working level the
 * helper runs the second half of every EM step on shared memory (engine/halves.ts); then the two threads
 * split the full-resolution pass by rows. Same bytes as `expand()` in one thread: the work is only moved,
 * never changed.
 */
import { Worker } from 'node:worker_threads';
import {
  finalizeRows,
  lookAlikeInput,
  prepare,
  splitRows,
  Synthesis,
  EngineCancelledError,
  type ExpandOptions,
  type ExpandedImage,
  type ExpansionRatios,
  type RasterImage,
} from '../engine/index.js';
import { JOIN } from '../engine/halves.js';
import type { HelperReply, HelperRequest } from './helper-worker.js';

/** A request as the caller writes it; `call` numbers it (Omit applied to each member of the union). */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type Request = WithoutId<HelperRequest>;
type Result = Int32Array | Uint8Array | number;

class HelperThread {
  private readonly worker = new Worker(new URL('./helper-worker.js', import.meta.url));
  private readonly waiting = new Map<number, { resolve: (v: Result) => void; reject: (e: Error) => void }>();
  private nextId = 0;

  constructor() {
    this.worker.on('message', (reply: HelperReply) => {
      const call = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if ('error' in reply) call?.reject(new Error(reply.error));
      else call?.resolve(reply.result);
    });
    this.worker.on('error', (err) => this.failAll(err));
    this.worker.on('exit', (code) => this.failAll(new Error(`helper thread exited with code ${code}`)));
  }

  call<T extends Result>(request: Request): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: Result) => void, reject });
      this.worker.postMessage({ ...request, id });
    });
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }

  private failAll(err: Error): void {
    for (const call of this.waiting.values()) call.reject(err);
    this.waiting.clear();
  }
}

export async function expandOnTwoThreads(image: RasterImage, ratios: ExpansionRatios, options: ExpandOptions = {}): Promise<ExpandedImage> {
  if (options.signal?.aborted) throw new EngineCancelledError();
  // Started first: the thread boots while this one prepares.
  const helper = new HelperThread();
  try {
    const prep = prepare(image, ratios, { quality: options.quality, deferLookAlike: true });
    const run = new Synthesis(prep, options.seed ?? 0, options);
    const { levels, working, tuning } = prep;
    // The helper builds the graphs coarse to fine, each from the one before, while this thread runs the
    // levels; each level waits for its own graph only.
    const graphs: (Promise<Int32Array> | null)[] = levels.map(() => null);
    if (tuning.similarSweeps > 0) {
      for (let l = levels.length - 1; l >= working; l--) {
        const chained = l < levels.length - 1;
        graphs[l] = helper.call<Int32Array>({ kind: 'lookAlike', input: lookAlikeInput(levels[l], l, tuning), chained });
        // Rejections are awaited below; until then they must not count as unhandled.
        graphs[l]!.catch(() => {});
      }
    }
    // Each level: this thread runs the first half of each split step while the helper runs the second.
    while (!run.optimised) {
      if (graphs[run.level]) prep.similar[run.level] = await graphs[run.level];
      const steps = run.levelSteps(true);
      let pending: Promise<number> = Promise.resolve(0);
      for (let next = steps.next(); !next.done; ) {
        if (next.value === JOIN) next = steps.next(await pending);
        else {
          pending = helper.call<number>({ kind: 'half', op: next.value });
          pending.catch(() => {});
          next = steps.next();
        }
      }
    }
    const input = run.finalInput();
    const [, middle, end] = splitRows(input, 2);
    const far = helper.call<Uint8Array>({ kind: 'rows', input, y0: middle, y1: end });
    far.catch(() => {});
    const near = finalizeRows(input, 0, middle, run.cancelCheck);
    const data = new Uint8Array(input.width * input.height * 3);
    data.set(near);
    data.set(await far, near.length);
    return run.finish(data);
  } finally {
    await helper.close();
  }
}
