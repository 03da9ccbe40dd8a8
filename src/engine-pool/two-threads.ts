/**
 * One result on two threads, for a caller with a single result and a free core (the CLI's `-n 1`): a
 * helper thread builds the look-alike graphs (most of the seed-independent preparation), each just ahead
 * of the level that needs it, runs the second half of every EM step, then half of the full-resolution rows
 * (helper.ts). Same bytes as `expand()` in one thread.
 */
import { Worker } from 'node:worker_threads';
import {
  lookAlikeInput,
  prepare,
  Synthesis,
  EngineCancelledError,
  type ExpandOptions,
  type ExpandedImage,
  type ExpansionRatios,
  type RasterImage,
} from '../engine/index.js';
import { finishWith, HelperLink, runLevelWith } from './helper.js';

/** A helper thread for one result. A caller may start it early (before decoding the input) so it boots meanwhile. */
export class TwoThreads {
  private readonly worker = new Worker(new URL('./helper-worker.js', import.meta.url));
  private readonly helper = new HelperLink(this.worker);

  constructor() {
    this.worker.on('error', (err) => this.helper.failAll(err));
    this.worker.on('exit', (code) => this.helper.failAll(new Error(`helper thread exited with code ${code}`)));
  }

  async expand(image: RasterImage, ratios: ExpansionRatios, options: ExpandOptions = {}): Promise<ExpandedImage> {
    if (options.signal?.aborted) throw new EngineCancelledError();
    const { helper } = this;
    const prep = prepare(image, ratios, { quality: options.quality, deferLookAlike: true });
    const run = new Synthesis(prep, options.seed ?? 0, options);
    const { levels, working, tuning } = prep;
    // The helper builds the graphs coarse to fine, each from the one before, while this thread runs the
    // levels; each level waits for its own graph only.
    const graphs: (Promise<Int32Array> | null)[] = levels.map(() => null);
    if (tuning.similarSweeps > 0) {
      for (let l = levels.length - 1; l >= working; l--) {
        graphs[l] = helper.call<Int32Array>({ kind: 'lookAlike', input: lookAlikeInput(levels[l], l, tuning), chained: l < levels.length - 1 });
      }
    }
    while (!run.optimised) {
      if (graphs[run.level]) prep.similar[run.level] = await graphs[run.level];
      await runLevelWith(run, helper);
    }
    return finishWith(run, helper);
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}

/** One result on this thread and a helper thread started for it. */
export async function expandOnTwoThreads(image: RasterImage, ratios: ExpansionRatios, options: ExpandOptions = {}): Promise<ExpandedImage> {
  if (options.signal?.aborted) throw new EngineCancelledError();
  const threads = new TwoThreads();
  try {
    return await threads.expand(image, ratios, options);
  } finally {
    await threads.close();
  }
}
