/**
 * A level's EM steps, cut in two halves that touch disjoint memory: the second half of the
 * targets (search, distances, vote weights) and of the rows (descriptors, vote). One thread or two run the
 * same halves, so the bytes do not depend on the thread count. `HalfRunner` runs the second half, on the
 * calling thread or on a helper thread holding a view on the same (shared) memory.
 */
import { Rng } from './rng.js';
import { LevelSolver, type SharedSolverState } from './solver.js';

/** Marks where the first half is done and the second half's result is needed. */
export const JOIN = Symbol('join');

export type HalfOp =
  | { kind: 'attach'; state: SharedSolverState; seed: number; level: number }
  | { kind: 'features'; y0: number; y1: number }
  | { kind: 'distances'; k0: number; k1: number }
  | { kind: 'search'; reverse: boolean; k0: number; k1: number; meanDistance: number }
  | { kind: 'vote'; y0: number; y1: number };

/** The second half's own random stream, apart from the first half's `Rng(seed, level)`. */
const SECOND_HALF_STREAM = 0x4000;

export class HalfRunner {
  private view: LevelSolver | null = null;
  private rng: Rng | null = null;

  /** Runs one op; 'distances' returns the sum of the distances it computed. */
  run(op: HalfOp): number {
    if (op.kind === 'attach') {
      this.view = LevelSolver.attach(op.state);
      this.rng = new Rng(op.seed, SECOND_HALF_STREAM + op.level);
      return 0;
    }
    const view = this.view;
    if (!view) throw new Error('no level attached');
    switch (op.kind) {
      case 'features':
        view.computeFeatures(op.y0, op.y1);
        return 0;
      case 'distances':
        view.countUsage(view.usage);
        return view.refreshDistanceRange(op.k0, op.k1);
      case 'search':
        view.meanDistance = op.meanDistance;
        view.search(op.reverse, this.rng!, op.k0, op.k1, view.usage);
        view.computeVoteWeights(true, op.k0, op.k1);
        return 0;
      case 'vote':
        view.vote(op.y0, op.y1);
        return 0;
    }
  }

  /** Lets the level's memory go. */
  detach(): void {
    this.view = null;
    this.rng = null;
  }
}

/** Steps of a level: ops for the second half, JOIN where their result is awaited. */
export type LevelSteps = Generator<HalfOp | typeof JOIN, void, number | undefined>;

/** Runs a level's steps on this thread: each second-half op at once (they are independent of the first half). */
export function runHere(steps: LevelSteps): void {
  const runner = new HalfRunner();
  let last = 0;
  for (let next = steps.next(); !next.done; ) {
    if (next.value === JOIN) next = steps.next(last);
    else {
      last = runner.run(next.value);
      next = steps.next();
    }
  }
}
