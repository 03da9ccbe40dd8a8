/**
 * The expansion engine: grows an image outward with new content synthesised from the image itself.
 * Multi-scale patch optimisation (Wexler–Shechtman–Irani completion with PatchMatch search), seeded at the
 * coarsest level by a smooth pull-push fill, optimised at a capped working resolution, then voted at full
 * resolution through the scaled-up correspondence field, with a seam correction that leaves the original
 * exact. Pure and synchronous: typed arrays in, typed arrays out; the same seed gives the same bytes.
 * See docs/engine.md.
 */
import { expansionGeometry, type ExpansionRatios } from './geometry.js';
import { downsampleKnown, halveLevel, pullPushFill, type PyramidLevel, type Rect } from './pyramid.js';
import { Rng } from './rng.js';
import { LevelSolver, type SolverTuning } from './solver.js';
import { JOIN, runHere, type LevelSteps } from './halves.js';
import { channelRange, finalizeRows, splitRows, type FinalizeInput } from './finalize.js';
import { borderExtension, boxBlur, lowFrequencyCorrection } from './low-frequency.js';
import { addChromaShift, chromaMap } from './chroma.js';
import {
  EngineCancelledError,
  type ExpandedImage,
  type ExpandOptions,
  type QualityPreset,
  type RasterImage,
} from './types.js';

export { expansionGeometry, EngineCancelledError, finalizeRows, splitRows };
export type { FinalizeInput };
export type { ExpansionRatios, ExpandedImage, ExpandOptions, RasterImage, QualityPreset };

interface Preset {
  /** Largest canvas (pixels) the patch optimisation runs at; beyond it only the final vote is full size. */
  workingPixels: number;
  /**
   * The coarsest level's long side is brought down to about this. Not lower: a thin band of the original
   * along a growing side (the strip of sky above a road) must still hold whole patches there, or the onion
   * peel grows the far region from what the picture has most of (the road, into the sky).
   */
  coarsestSide: number;
  /** EM iterations at the coarsest level, the factor per finer level, and the floor. */
  coarseIterations: number;
  iterationDecay: number;
  minIterations: number;
}

// The shipped tables, frozen: the service treats them as constants and changing them changes every result's
// bytes. Parameter sweeps pass `overrides` to prepare()/expand() instead (docs/engine.md).
export const PRESETS: Readonly<Record<QualityPreset, Readonly<Preset>>> = Object.freeze({
  fast: Object.freeze({ workingPixels: 90_000, coarsestSide: 128, coarseIterations: 4, iterationDecay: 0.5, minIterations: 2 }),
  balanced: Object.freeze({ workingPixels: 200_000, coarsestSide: 144, coarseIterations: 5, iterationDecay: 0.6, minIterations: 3 }),
  best: Object.freeze({ workingPixels: 420_000, coarsestSide: 160, coarseIterations: 13, iterationDecay: 0.7, minIterations: 4 }),
});

export const TUNING: Readonly<SolverTuning> = Object.freeze({
  radius: 3,
  gradientWeight: 1.5,
  confidenceBase: 1.3,
  confidenceClampPatches: 2,
  reusePenalty: 0.05,
  saliencyFloor: 0.05,
  saliencyCap: 4,
  searchShrinkWithSimilar: 3,
  finalRadiusFactor: 0.5,
  finalRadiusMin: 1,
  similarSweeps: 2,
  lowFrequencyWeight: 1,
  lowFrequencyRadius: 1 / 40,
  lowFrequencyRamp: 2,
  lowFrequencyChroma: 0.5,
  lowFrequencyLimit: 20,
  chromaTransfer: 1,
  chromaBandDepth: 0.1,
  chromaLimit: 10,
  layoutPrior: 0.5,
  farRamp: 0.5,
});

export interface GreedyTuning {
  /** Onion peel at the coarsest level (else a random field). */
  enabled: boolean;
  /** Random source candidates per grown pixel. */
  randomCandidates: number;
  /** Seeded jitter of the peel order, in pixels of distance. */
  orderJitter: number;
}

/** Coarsest-level start: onion peel (greedyFill) with this many random candidates per pixel, or a random field. */
export const GREEDY: Readonly<GreedyTuning> = Object.freeze({ enabled: true, randomCandidates: 48, orderJitter: 0.9 });

/** Replacements for some of the shipped parameters, for parameter sweeps; the service never passes any. */
export interface EngineOverrides {
  preset?: Partial<Preset>;
  tuning?: Partial<SolverTuning>;
  greedy?: Partial<GreedyTuning>;
}

/** Everything about a job that does not depend on the seed: computed once, shared by its n results. */
export interface PreparedExpansion {
  raster: RasterImage;
  width: number;
  height: number;
  /** The original's rectangle in the output. */
  rect: Rect;
  /** levels[0] is full resolution; levels[working..coarsest] are optimised. */
  levels: PyramidLevel[];
  working: number;
  /** Smooth fill of the coarsest canvas (seed-independent starting point). */
  coarseFill: Float32Array;
  /** Per optimised level (index = level), the look-alike source of each source centre (see LevelSolver.similar). */
  similar: (Int32Array | null)[];
  iterations: number[];
  /** The working level's smooth border extension, blurred like the synthesis's low frequencies (null when off). */
  membrane: Float32Array | null;
  /** The original's range per channel, which new pixels stay within (channelRange). */
  range: Uint8Array;
  /** Progress steps of one result. */
  steps: number;
  preset: Readonly<Preset>;
  tuning: Readonly<SolverTuning>;
  greedy: Readonly<GreedyTuning>;
}

/** The level structure and iteration schedule of a job: geometry only, no pixel work. */
export interface ExpansionPlan {
  width: number;
  height: number;
  rect: Rect;
  levels: PyramidLevel[];
  working: number;
  iterations: number[];
  preset: Readonly<Preset>;
  /** Progress steps of one result (what onProgress's `total` will say). */
  steps: number;
}

export function plan(
  inputWidth: number,
  inputHeight: number,
  ratios: ExpansionRatios,
  quality: QualityPreset = 'balanced',
  overrides: EngineOverrides = {},
): ExpansionPlan {
  const r = overrides.tuning?.radius ?? TUNING.radius;
  if (Math.min(inputWidth, inputHeight) < 2 * r + 1) {
    throw new RangeError(`image ${inputWidth}×${inputHeight} is too small: each side needs at least ${2 * r + 1} px`);
  }
  const preset: Readonly<Preset> = { ...(PRESETS[quality] ?? PRESETS.balanced), ...overrides.preset };
  const g = expansionGeometry(inputWidth, inputHeight, ratios);
  const rect: Rect = { x0: g.x, y0: g.y, x1: g.x + inputWidth, y1: g.y + inputHeight };
  const levels: PyramidLevel[] = [{ width: g.width, height: g.height, known: rect, knownRgb: new Float32Array(0) }];
  // Halve until the canvas is small, while the original stays big enough to hold a few source patches.
  for (;;) {
    const last = levels[levels.length - 1];
    if (Math.max(last.width, last.height) <= preset.coarsestSide) break;
    const next = halveLevel(last);
    const k = next.known;
    if (Math.min(k.x1 - k.x0, k.y1 - k.y0) < 4 * r + 3 || Math.min(next.width, next.height) < 2 * r + 3) break;
    levels.push(next);
  }
  // Big canvases get a finer working level (at most 64 output pixels per working cell, i.e. scale 8) so the
  // final vote does not stretch one cell over 16×16 pixels; cost stays bounded by the 1/64 ratio.
  const workingPixels = Math.max(preset.workingPixels, Math.ceil((g.width * g.height) / 64));
  let working = 0;
  while (working < levels.length - 1 && levels[working].width * levels[working].height > workingPixels) working++;
  const iterations: number[] = [];
  for (let l = levels.length - 1, i = 0; l >= working; l--, i++) {
    iterations.push(Math.max(preset.minIterations, Math.round(preset.coarseIterations * Math.pow(preset.iterationDecay, i))));
  }
  const steps = iterations.reduce((a, b) => a + b, 0) + 1;
  return { width: g.width, height: g.height, rect, levels, working, iterations, preset, steps };
}

export function prepare(
  image: RasterImage,
  ratios: ExpansionRatios,
  options: Pick<ExpandOptions, 'quality'> & {
    overrides?: EngineOverrides;
    /**
     * Leave the look-alike graphs (most of the preparation) out: the caller builds them elsewhere, coarse
     * to fine (`lookAlikeInput`, `lookAlikeGraph`), while the coarser levels are optimised, and sets
     * `prep.similar[l]` before level l runs.
     */
    deferLookAlike?: boolean;
  } = {},
): PreparedExpansion {
  const { width: iw, height: ih, channels, data } = image;
  if (!(iw > 0 && ih > 0) || (channels !== 3 && channels !== 4) || data.length < iw * ih * channels) {
    throw new RangeError(`bad raster: ${iw}×${ih}×${channels} with ${data.length} bytes`);
  }
  const overrides = options.overrides ?? {};
  const tuning: Readonly<SolverTuning> = { ...TUNING, ...overrides.tuning };
  const greedy: Readonly<GreedyTuning> = { ...GREEDY, ...overrides.greedy };
  const { levels, working, rect, iterations, steps, preset, width, height } = plan(iw, ih, ratios, options.quality, overrides);
  for (let l = 1; l < levels.length; l++) downsampleKnown(levels[l], levels[l - 1], l === 1 ? image : null);
  if (working === 0) {
    // A small canvas: the optimisation runs at full resolution on float copies of the original.
    const lv = levels[0];
    const kw = rect.x1 - rect.x0;
    lv.knownRgb = new Float32Array(kw * (rect.y1 - rect.y0) * 3);
    for (let i = 0; i < lv.knownRgb.length / 3; i++) {
      lv.knownRgb[i * 3] = data[i * channels];
      lv.knownRgb[i * 3 + 1] = data[i * channels + 1];
      lv.knownRgb[i * 3 + 2] = data[i * channels + 2];
    }
  }
  // Levels finer than the working one only need their known pixels for nothing: drop them early.
  for (let l = 1; l < working; l++) levels[l].knownRgb = new Float32Array(0);

  const coarsest = levels[levels.length - 1];
  const coarseFill = new Float32Array(coarsest.width * coarsest.height * 3);
  placeKnown(coarseFill, coarsest);
  pullPushFill(coarseFill, coarsest.width, coarsest.height, coarsest.known);

  const similar: (Int32Array | null)[] = levels.map(() => null);
  // Coarse to fine: each finer graph starts from the coarser one doubled and needs one sweep less.
  if (tuning.similarSweeps > 0 && !options.deferLookAlike) {
    for (let l = levels.length - 1; l >= working; l--) {
      similar[l] = lookAlikeGraph(lookAlikeInput(levels[l], l, tuning), similar[l + 1] ? { similar: similar[l + 1]!, width: levels[l + 1].width } : null);
    }
  }
  let membrane: Float32Array | null = null;
  if (tuning.lowFrequencyWeight > 0) {
    const lv = levels[working];
    const radius = Math.max(1, Math.round(Math.min(lv.width, lv.height) * tuning.lowFrequencyRadius));
    // The border's low frequencies only: a band of raw pixels would carry its texture outward (one stripe
    // of a striped picture would become a flood of its colour).
    const kw = lv.known.x1 - lv.known.x0;
    const kh = lv.known.y1 - lv.known.y0;
    const lowKnown = new Float32Array(lv.knownRgb);
    boxBlur(lowKnown, kw, kh, radius, 2, new Float32Array(lowKnown.length));
    membrane = borderExtension(lv.width, lv.height, lv.known, lowKnown, tuning.radius + 1);
    boxBlur(membrane, lv.width, lv.height, radius, 2, new Float32Array(membrane.length));
  }
  const range = channelRange(image);
  return { raster: image, width, height, rect, levels, working, coarseFill, similar, membrane, range, iterations, steps, preset, tuning, greedy };
}

/** What building one level's look-alike graph needs: plain data, so it can be built on another thread. */
export interface LookAlikeInput {
  level: number;
  width: number;
  height: number;
  known: Rect;
  knownRgb: Float32Array;
  tuning: Readonly<SolverTuning>;
}

export function lookAlikeInput(level: PyramidLevel, l: number, tuning: Readonly<SolverTuning>): LookAlikeInput {
  return { level: l, width: level.width, height: level.height, known: level.known, knownRgb: level.knownRgb, tuning };
}

/**
 * A level's look-alike graph (see LevelSolver.similar), from the next coarser level's graph (null at the
 * coarsest level). Seed-independent; the same bytes on any thread.
 */
export function lookAlikeGraph(input: LookAlikeInput, coarser: { similar: Int32Array; width: number } | null): Int32Array {
  const { tuning } = input;
  const sweeps = coarser ? Math.max(1, tuning.similarSweeps - 1) : tuning.similarSweeps;
  const scratch = new LevelSolver(input.width, input.height, input.known, input.knownRgb, tuning);
  return scratch.buildSimilarSources(new Rng(0x5eed, 1000 + input.level), sweeps, coarser);
}

/**
 * One result of a prepared job, a level at a time, so that a caller can do other work between levels
 * (build the look-alike graphs on another thread), hand the working level's second halves to another
 * thread and split the full-resolution pass by rows. Deterministic in `seed`. `synthesize()` runs it
 * straight through on one thread.
 */
export class Synthesis {
  private nextLevel: number;
  private solver: LevelSolver | null = null;
  private done = 0;
  private readonly checkCancelled: () => void;

  constructor(
    private readonly prep: PreparedExpansion,
    private readonly seed = 0,
    private readonly options: Omit<ExpandOptions, 'seed' | 'quality'> = {},
  ) {
    this.nextLevel = prep.levels.length - 1;
    const signal = options.signal;
    this.checkCancelled = (): void => {
      if (signal?.aborted) throw new EngineCancelledError();
    };
    this.checkCancelled();
  }

  /** The next level to optimise; below `prep.working` once all are done. */
  get level(): number {
    return this.nextLevel;
  }

  get optimised(): boolean {
    return this.nextLevel < this.prep.working;
  }

  /** Optimises the next level (its look-alike graph, if on, must be in `prep.similar` by now). */
  runLevel(): void {
    runHere(this.levelSteps(false));
  }

  /**
   * The next level's steps. Each EM step is cut in two halves (see halves.ts) whose second half is yielded
   * for a driver to run here (`runHere`) or on a helper thread; `shared` puts the level's arrays on shared
   * memory for that. Every level, not only the working one: the coarser levels are nearly half the time.
   */
  *levelSteps(shared: boolean): LevelSteps {
    const { prep, seed } = this;
    const { levels, working, iterations, tuning, greedy } = prep;
    const l = this.nextLevel;
    if (l < working) throw new Error('every level is optimised already');
    const i = levels.length - 1 - l;
    const level = levels[l];
    const stage = `level ${i + 1}/${levels.length - working}`;
    const rng = new Rng(seed, l);
    const next = new LevelSolver(level.width, level.height, level.known, level.knownRgb, tuning, shared);
    next.similar = prep.similar[l];
    if (tuning.similarSweeps > 0 && !next.similar) throw new Error(`level ${l}'s look-alike graph is missing`);
    if (!this.solver) {
      next.setUnknown(prep.coarseFill);
      if (greedy.enabled) next.greedyFill(rng, greedy.randomCandidates, greedy.orderJitter);
      else next.randomField(rng);
    } else {
      next.upsampleField(this.solver);
      next.computeVoteWeights(false);
      next.vote();
    }
    const solver = (this.solver = next);
    // The halves: targets by count (scan order), descriptors by rows, the vote by unknown pixels.
    const { height } = solver;
    const n = solver.targets.length;
    const k = n >> 1;
    const featureRow = height >> 1;
    const voteRow = splitRows({ width: solver.width, height, rect: solver.known }, 2)[1];
    yield { kind: 'attach', state: solver.shareState(), seed, level: l };
    for (let it = 0; it < iterations[i]; it++) {
      this.checkCancelled();
      const reverse = (it & 1) === 1;
      yield { kind: 'features', y0: featureRow, y1: height };
      solver.computeFeatures(0, featureRow);
      yield JOIN;
      yield { kind: 'distances', k0: k, k1: n };
      solver.countUsage(solver.usage);
      const first = solver.refreshDistanceRange(0, k);
      solver.setMeanDistance(first + ((yield JOIN) ?? 0));
      yield { kind: 'search', reverse, k0: k, k1: n, meanDistance: solver.meanDistance };
      solver.search(reverse, rng, 0, k);
      solver.computeVoteWeights(true, 0, k);
      yield JOIN;
      yield { kind: 'vote', y0: voteRow, y1: height };
      solver.vote(0, voteRow);
      yield JOIN;
      this.done++;
      this.report(stage);
    }
    this.nextLevel--;
  }

  /** After the last level: everything the full-resolution pass needs, as plain data (see finalizeRows). */
  finalInput(): FinalizeInput {
    const { prep } = this;
    const solver = this.solver;
    if (!solver || !this.optimised) throw new Error('levels are still to be optimised');
    this.checkCancelled();
    const { tuning, working } = prep;
    const scale = 1 << working;
    const r = tuning.radius;
    const ramp = tuning.lowFrequencyRamp * (2 * r + 1);
    let lowFrequency = prep.membrane
      ? lowFrequencyCorrection(solver.rgb, prep.membrane, solver.width, solver.height, solver.known, tuning, ramp)
      : null;
    const chroma =
      tuning.chromaTransfer > 0
        ? chromaMap(solver.rgb, lowFrequency, solver.width, solver.height, solver.known, tuning.chromaBandDepth, 2 * r + 1)
        : null;
    if (chroma) {
      lowFrequency ??= new Float32Array(solver.rgb.length);
      addChromaShift(solver.rgb, lowFrequency, solver.width, solver.height, solver.known, chroma, tuning.chromaTransfer, tuning.chromaLimit, ramp);
    }
    return {
      field: { width: solver.width, height: solver.height, nnf: solver.nnf, voteWeight: solver.voteWeight, rgb: solver.rgb },
      lowFrequency,
      range: prep.range,
      scale,
      raster: prep.raster,
      width: prep.width,
      height: prep.height,
      rect: prep.rect,
      radius: Math.max(tuning.finalRadiusMin, Math.round(tuning.finalRadiusFactor * scale)),
      seamBand: Math.max(16, 2 * (2 * r + 1) * scale),
    };
  }

  /** The finished image from the full-resolution rows (all of them, in order; see finalizeRows). */
  finish(data: Uint8Array): ExpandedImage {
    const { prep } = this;
    this.done++;
    this.report('full resolution');
    return { data, width: prep.width, height: prep.height, channels: 3, x: prep.rect.x0, y: prep.rect.y0 };
  }

  get cancelCheck(): () => void {
    return this.checkCancelled;
  }

  private report(stage: string): void {
    this.options.onProgress?.({ done: this.done, total: this.prep.steps, stage });
  }
}

/** One result of a prepared job. Deterministic in `seed`. */
export function synthesize(prep: PreparedExpansion, seed = 0, options: Omit<ExpandOptions, 'seed' | 'quality'> = {}): ExpandedImage {
  const run = new Synthesis(prep, seed, options);
  while (!run.optimised) run.runLevel();
  const input = run.finalInput();
  return run.finish(finalizeRows(input, 0, input.height, run.cancelCheck));
}

/**
 * Expands `image` by `ratios` (see expansionGeometry): the original's pixels appear unchanged at (x, y) of the
 * result and everything around them is synthesised. Same seed → byte-identical output.
 */
export function expand(image: RasterImage, ratios: ExpansionRatios, options: ExpandOptions & { overrides?: EngineOverrides } = {}): ExpandedImage {
  if (options.signal?.aborted) throw new EngineCancelledError();
  const prep = prepare(image, ratios, options);
  return synthesize(prep, options.seed ?? 0, options);
}

function placeKnown(rgb: Float32Array, level: PyramidLevel): void {
  const k = level.known;
  const kw = k.x1 - k.x0;
  for (let y = k.y0; y < k.y1; y++) {
    const from = (y - k.y0) * kw * 3;
    rgb.set(level.knownRgb.subarray(from, from + kw * 3), (y * level.width + k.x0) * 3);
  }
}
