/**
 * One pyramid level of Wexler–Shechtman–Irani completion: PatchMatch search (Barnes et al. 2009) of a
 * source patch for every target patch, then weighted voting. All state lives in flat typed arrays that are
 * allocated once per level; the hot loops allocate nothing.
 */
import { distanceToRect, type Rect } from './pyramid.js';
import type { Rng } from './rng.js';
import type { LowFrequencyTuning } from './low-frequency.js';
import type { ChromaTuning } from './chroma.js';

/** Channels of the patch descriptor: R, G, B and the luminance gradient (x, y). */
export const FEATURES = 5;

export interface SolverTuning extends LowFrequencyTuning, ChromaTuning {
  /** Patch radius: patches are (2r+1)². */
  radius: number;
  /** Weight of the gradient channels relative to colour. */
  gradientWeight: number;
  /** Voting confidence falls as base^-distance from the known region... */
  confidenceBase: number;
  /** ...up to this distance in patch widths, then stays flat (distances reach hundreds of pixels). */
  confidenceClampPatches: number;
  /** Penalty for reusing a source patch, as a fraction of the mean patch distance per extra use. */
  reusePenalty: number;
  /** Bounds of the per-source saliency factor on the reuse penalty (mean 1). */
  saliencyFloor: number;
  saliencyCap: number;
  /** Random-search window shrink factor when look-alike sources are known (2 = the classic halving). */
  searchShrinkWithSimilar: number;
  /** Full-resolution voting patch radius, in working-level cells... */
  finalRadiusFactor: number;
  /**
   * ...and at least this many pixels: enough overlap to hide the working cells' grid; a whole patch's
   * worth (the patch radius, as before) blends neighbouring copies into a blur at full resolution.
   */
  finalRadiusMin: number;
  /** PatchMatch sweeps building the look-alike sources (0 = none). */
  similarSweeps: number;
  /**
   * Layout prior, as a fraction of the mean patch distance: a target past the original's top edge pays this
   * times how far down the original its source lies (0 at the top row, 1 at the bottom), likewise for the
   * other sides, scaled by how far out the target lies (`farRamp`). 0 = off.
   */
  layoutPrior: number;
  /** Distance from the original, as a fraction of the original's short side, where "far" reaches 1. */
  farRamp: number;
}

/** A level's state as another thread's view needs it (LevelSolver.shareState / attach). */
export interface SharedSolverState {
  width: number;
  height: number;
  known: Rect;
  tuning: Readonly<SolverTuning>;
  rgb: Float32Array;
  features: Float32Array;
  nnf: Int32Array;
  nnd: Float32Array;
  usage: Int32Array;
  confidence: Float32Array;
  voteWeight: Float32Array;
  targets: Int32Array;
  similar: Int32Array | null;
  saliency: Float32Array;
  layout: Float32Array;
  meanDistance: number;
}

export class LevelSolver {
  readonly width: number;
  readonly height: number;
  readonly known: Rect;
  /** Centres whose whole patch is known: where source patches may come from. */
  readonly sources: Rect;
  readonly radius: number;
  /** Current estimate, RGB floats; the known rectangle always holds the original. */
  readonly rgb: Float32Array;
  readonly features: Float32Array;
  /** Source pixel index per target centre; -1 for pixels that are not target centres. */
  readonly nnf: Int32Array;
  readonly nnd: Float32Array;
  /** How many targets use each source centre. */
  readonly usage: Int32Array;
  /** Distance-to-known confidence per target centre. */
  readonly confidence: Float32Array;
  /** Voting weight per target centre (confidence × similarity). */
  readonly voteWeight: Float32Array;
  /** Target centres in scan order. */
  readonly targets: Int32Array;
  private readonly tuning: Readonly<SolverTuning>;
  meanDistance = 1;
  /**
   * For each source centre, another source centre whose patch looks alike (not overlapping it), or -1.
   * Seed-independent, so computed once per job and shared by its n results; the search tries the
   * look-alike of its current best as one more candidate ("enrichment"), which finds good matches with
   * fewer random samples.
   */
  similar: Int32Array | null = null;
  /**
   * Per source centre, how visible a repeat of its patch would be: its gradient energy relative to the mean
   * over all sources (a repeated flat patch is invisible, a repeated textured or structured one is a clone).
   * Scales the reuse penalty.
   */
  private saliency: Float32Array | null = null;
  /**
   * Per target centre, the layout prior's coefficients: prior = a × (source row − sources.y0) +
   * b × (source column − sources.x0) + c, in units of the mean patch distance × layoutPrior.
   */
  private layout: Float32Array | null = null;

  /**
   * `shared`: the arrays live on SharedArrayBuffers, so that a view on another thread (`attach`) can work
   * on half of the level's targets and rows at the same time (see `shareState`).
   */
  constructor(
    width: number,
    height: number,
    known: Rect,
    knownRgb: Float32Array,
    tuning: Readonly<SolverTuning>,
    shared = false,
    adopt: SharedSolverState | null = null,
  ) {
    this.width = width;
    this.height = height;
    this.known = known;
    this.tuning = tuning;
    const r = (this.radius = tuning.radius);
    this.sources = { x0: known.x0 + r, y0: known.y0 + r, x1: known.x1 - r, y1: known.y1 - r };
    if (adopt) {
      ({ rgb: this.rgb, features: this.features, nnf: this.nnf, nnd: this.nnd, usage: this.usage } = adopt);
      ({ confidence: this.confidence, voteWeight: this.voteWeight, targets: this.targets } = adopt);
      this.similar = adopt.similar;
      this.saliency = adopt.saliency;
      this.layout = adopt.layout;
      this.meanDistance = adopt.meanDistance;
      return;
    }
    const n = width * height;
    const f32 = (len: number): Float32Array => (shared ? new Float32Array(new SharedArrayBuffer(len * 4)) : new Float32Array(len));
    const i32 = (len: number): Int32Array => (shared ? new Int32Array(new SharedArrayBuffer(len * 4)) : new Int32Array(len));
    this.rgb = f32(n * 3);
    this.features = f32(n * FEATURES);
    this.nnf = i32(n).fill(-1);
    this.nnd = f32(n);
    this.usage = i32(n);
    this.confidence = new Float32Array(n);
    this.voteWeight = f32(n);
    const kw = known.x1 - known.x0;
    for (let y = known.y0; y < known.y1; y++) {
      const from = (y - known.y0) * kw * 3;
      this.rgb.set(knownRgb.subarray(from, from + kw * 3), (y * width + known.x0) * 3);
    }
    const s = this.sources;
    // Every centre at least r from the canvas edge except the sources (which lie inside that margin).
    const targetCount = (width - 2 * r) * (height - 2 * r) - Math.max(0, s.x1 - s.x0) * Math.max(0, s.y1 - s.y0);
    this.targets = new Int32Array(Math.max(0, targetCount));
    const clampD = tuning.confidenceClampPatches * (2 * r + 1);
    let k = 0;
    for (let y = r; y < height - r; y++) {
      for (let x = r; x < width - r; x++) {
        if (x >= s.x0 && x < s.x1 && y >= s.y0 && y < s.y1) continue;
        const i = y * width + x;
        this.targets[k++] = i;
        const d = Math.min(distanceToRect(x, y, known), clampD);
        this.confidence[i] = Math.pow(tuning.confidenceBase, -d);
      }
    }
  }

  /**
   * What a view on another thread needs (see `attach`): the arrays both halves write are shared (the solver
   * must have been made with `shared`), the read-only ones are copied once. `usage` is the second half's own
   * reuse counts (see halves.ts).
   */
  shareState(): SharedSolverState {
    this.prepareSearch();
    return {
      width: this.width,
      height: this.height,
      known: this.known,
      tuning: this.tuning,
      rgb: this.rgb,
      features: this.features,
      nnf: this.nnf,
      nnd: this.nnd,
      usage: this.secondUsage(),
      confidence: this.confidence,
      voteWeight: this.voteWeight,
      targets: this.targets,
      similar: this.similar,
      saliency: this.saliency!,
      layout: this.layout!,
      meanDistance: this.meanDistance,
    };
  }

  /** A solver on the memory of another thread's (from its `shareState`). */
  static attach(state: SharedSolverState): LevelSolver {
    return new LevelSolver(state.width, state.height, state.known, new Float32Array(0), state.tuning, false, state);
  }

  private usageB: Int32Array | null = null;

  /** The second half's reuse counts: shared memory when the solver's is. */
  secondUsage(): Int32Array {
    if (!this.usageB) {
      const n = this.usage.length;
      this.usageB = this.usage.buffer instanceof SharedArrayBuffer ? new Int32Array(new SharedArrayBuffer(n * 4)) : new Int32Array(n);
    }
    return this.usageB;
  }

  /** Saliency and layout coefficients, which the search needs (computed once per level). */
  prepareSearch(): void {
    if (!this.saliency) this.saliency = this.computeSaliency();
    if (!this.layout) this.layout = this.computeLayout();
  }

  /**
   * Every target's layout-prior coefficients (see `layout`), scaled by how far out it lies. Computed on the
   * first search, so solvers that never search (the look-alike graph's) do not pay for them.
   */
  private computeLayout(): Float32Array {
    const { known, sources: s, targets, width } = this;
    const layout = new Float32Array(width * this.height * 3);
    const farAt = Math.max(1, this.tuning.farRamp * Math.min(known.x1 - known.x0, known.y1 - known.y0));
    const invH = 1 / Math.max(1, s.y1 - s.y0 - 1);
    const invW = 1 / Math.max(1, s.x1 - s.x0 - 1);
    for (let k = 0; k < targets.length; k++) {
      const i = targets[k];
      const x = i % width;
      const y = (i - x) / width;
      const dx = x < known.x0 ? known.x0 - x : x >= known.x1 ? x - known.x1 + 1 : 0;
      const dy = y < known.y0 ? known.y0 - y : y >= known.y1 ? y - known.y1 + 1 : 0;
      if (dx + dy === 0) continue;
      const far = Math.min(1, distanceToRect(x, y, known) / farAt);
      // Sides blend by how far the target lies past each, as in the border extension.
      const wv = (far * dy) / (dx + dy);
      const wh = (far * dx) / (dx + dy);
      const o = i * 3;
      if (dy > 0) {
        if (y < known.y0) layout[o] = wv * invH;
        else {
          layout[o] = -wv * invH;
          layout[o + 2] += wv;
        }
      }
      if (dx > 0) {
        if (x < known.x0) layout[o + 1] = wh * invW;
        else {
          layout[o + 1] = -wh * invW;
          layout[o + 2] += wh;
        }
      }
    }
    return layout;
  }

  /** Copies an RGB canvas (e.g. the smooth fill) into the unknown region. */
  setUnknown(rgb: Float32Array): void {
    const { width, height, known } = this;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (x >= known.x0 && x < known.x1 && y >= known.y0 && y < known.y1) continue;
        const i = (y * width + x) * 3;
        this.rgb[i] = rgb[i];
        this.rgb[i + 1] = rgb[i + 1];
        this.rgb[i + 2] = rgb[i + 2];
      }
    }
  }

  /**
   * Coarsest-level start: grow the unknown region ring by ring from the original (onion peel), each pixel
   * taking the centre of the source patch that best matches its already-filled neighbourhood. Candidates are
   * the neighbours' sources shifted (coherent continuation) and seeded random samples, so structures that
   * cross the border continue and different seeds grow different content. Then every target's field entry
   * starts at the source its centre pixel was grown from.
   */
  greedyFill(rng: Rng, randomCandidates: number, orderJitter = 0.9): void {
    const { width, height, known, rgb, nnf } = this;
    const s = this.sources;
    const sw = s.x1 - s.x0;
    const sh = s.y1 - s.y0;
    const r = this.radius;
    const n = width * height;
    const filled = new Uint8Array(n);
    const grownFrom = new Int32Array(n).fill(-1);
    for (let y = known.y0; y < known.y1; y++) filled.fill(1, y * width + known.x0, y * width + known.x1);
    const order = new Int32Array(n - (known.x1 - known.x0) * (known.y1 - known.y0));
    const key = new Float64Array(n);
    let unknownCount = 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        if (filled[i]) continue;
        order[unknownCount++] = i;
        key[i] = distanceToRect(x, y, known) + rng.unit() * orderJitter;
      }
    }
    order.sort((a, b) => key[a] - key[b]);
    // Masked RGB distance over the filled pixels of p's patch, as a mean (patches near the front are half
    // empty). The mask and p's values are gathered once per grown pixel (`gatherMask`), not per candidate,
    // and a candidate stops once its sum must exceed the best mean so far (the same choices, sooner).
    const patchArea = (2 * r + 1) * (2 * r + 1);
    const maskOffset = new Int32Array(patchArea);
    const maskRgb = new Float64Array(patchArea * 3);
    let maskCount = 0;
    const gatherMask = (): void => {
      maskCount = 0;
      for (let dy = -r; dy <= r; dy++) {
        const yy = py + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -r; dx <= r; dx++) {
          const xx = px + dx;
          if (xx < 0 || xx >= width) continue;
          const q = yy * width + xx;
          if (!filled[q]) continue;
          maskOffset[maskCount] = q - p;
          maskRgb[maskCount * 3] = rgb[q * 3];
          maskRgb[maskCount * 3 + 1] = rgb[q * 3 + 1];
          maskRgb[maskCount * 3 + 2] = rgb[q * 3 + 2];
          maskCount++;
        }
      }
    };
    const maskedDistance = (c: number): number => {
      if (maskCount === 0) return Infinity;
      // Partial sums only grow: past this, the mean cannot beat bestD (the margin absorbs rounding).
      const limit = bestD * maskCount * (1 + 1e-9);
      let sum = 0;
      for (let k = 0; k < maskCount; k++) {
        const a = k * 3;
        const b = (c + maskOffset[k]) * 3;
        const d0 = maskRgb[a] - rgb[b];
        const d1 = maskRgb[a + 1] - rgb[b + 1];
        const d2 = maskRgb[a + 2] - rgb[b + 2];
        sum += d0 * d0 + d1 * d1 + d2 * d2;
        if (sum > limit) return Infinity;
      }
      return sum / maskCount;
    };
    // State of the pixel being grown, shared with `consider` (one function, not a closure per pixel).
    let p = 0;
    let px = 0;
    let py = 0;
    let best = -1;
    let bestD = Infinity;
    const consider = (cx: number, cy: number): void => {
      if (cx < s.x0 || cx >= s.x1 || cy < s.y0 || cy >= s.y1) return;
      const c = cy * width + cx;
      if (c === best) return;
      const d = maskedDistance(c);
      if (d < bestD) {
        bestD = d;
        best = c;
      }
    };
    for (let k = 0; k < order.length; k++) {
      p = order[k];
      px = p % width;
      py = (p - px) / width;
      best = -1;
      bestD = Infinity;
      gatherMask();
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = px + dx;
          const ny = py + dy;
          if ((dx === 0 && dy === 0) || nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          const g = grownFrom[ny * width + nx];
          if (g < 0) continue;
          const gx = g % width;
          consider(gx - dx, (g - gx) / width - dy);
        }
      }
      for (let j = 0; j < randomCandidates; j++) consider(s.x0 + rng.below(sw), s.y0 + rng.below(sh));
      // Refine around the best in shrinking windows.
      for (let rad = Math.max(sw, sh) >> 2; rad >= 1; rad >>= 1) {
        const bx = best % width;
        const by = (best - bx) / width;
        consider(bx + Math.floor((rng.unit() * 2 - 1) * rad), by + Math.floor((rng.unit() * 2 - 1) * rad));
      }
      grownFrom[p] = best;
      filled[p] = 1;
      rgb[p * 3] = rgb[best * 3];
      rgb[p * 3 + 1] = rgb[best * 3 + 1];
      rgb[p * 3 + 2] = rgb[best * 3 + 2];
    }
    const { targets } = this;
    for (let k = 0; k < targets.length; k++) {
      const t = targets[k];
      const g = grownFrom[t];
      nnf[t] = g >= 0 ? g : (s.y0 + rng.below(sh)) * width + s.x0 + rng.below(sw);
    }
  }

  /**
   * Builds `similar` by PatchMatch of the source region against itself (patches at least a patch width
   * apart). Uses the known pixels only: the unknown ones are set to their nearest known pixel first.
   */
  buildSimilarSources(rng: Rng, sweeps: number, coarser: { similar: Int32Array; width: number } | null = null): Int32Array {
    const { width, height, known, rgb } = this;
    const s = this.sources;
    const sw = s.x1 - s.x0;
    const sh = s.y1 - s.y0;
    const r = this.radius;
    const minGap = 2 * r + 1;
    for (let y = 0; y < height; y++) {
      const ky = Math.min(Math.max(y, known.y0), known.y1 - 1);
      for (let x = 0; x < width; x++) {
        if (x >= known.x0 && x < known.x1 && y >= known.y0 && y < known.y1) continue;
        const kx = Math.min(Math.max(x, known.x0), known.x1 - 1);
        const i = (y * width + x) * 3;
        const j = (ky * width + kx) * 3;
        rgb[i] = rgb[j];
        rgb[i + 1] = rgb[j + 1];
        rgb[i + 2] = rgb[j + 2];
      }
    }
    this.computeFeatures();
    const similar = new Int32Array(width * height).fill(-1);
    const dist = new Float32Array(width * height);
    if (sw <= minGap && sh <= minGap) return similar;
    const apart = (a: number, b: number): boolean => {
      const ax = a % width;
      const bx = b % width;
      return Math.abs(ax - bx) >= minGap || Math.abs((a - ax) / width - (b - bx) / width) >= minGap;
    };
    // Without a coarser level's graph, no initial guess: the first sweep's propagation and random samples
    // find one, each distance bounded by the best so far (cheaper than scoring a random start for every
    // source). With one, its look-alikes doubled, as the field is from level to level.
    dist.fill(Infinity);
    if (coarser) {
      const cw = coarser.width;
      for (let y = s.y0; y < s.y1; y++) {
        for (let x = s.x0; x < s.x1; x++) {
          const cs = coarser.similar[(y >> 1) * cw + (x >> 1)];
          if (cs < 0) continue;
          const csx = cs % cw;
          let cx = 2 * csx + (x & 1);
          let cy = 2 * ((cs - csx) / cw) + (y & 1);
          cx = cx < s.x0 ? s.x0 : cx >= s.x1 ? s.x1 - 1 : cx;
          cy = cy < s.y0 ? s.y0 : cy >= s.y1 ? s.y1 - 1 : cy;
          const i = y * width + x;
          const c = cy * width + cx;
          if (!apart(i, c)) continue;
          similar[i] = c;
          dist[i] = this.patchDistance(i, c, Infinity);
        }
      }
    }
    const maxRadius = Math.max(sw, sh);
    const shrinkBy = 3;
    // State of the source being matched, shared with `consider` (one function, not a closure per pixel).
    let i = 0;
    let best = -1;
    let bestD = Infinity;
    const consider = (cx: number, cy: number): void => {
      if (cx < s.x0 || cx >= s.x1 || cy < s.y0 || cy >= s.y1) return;
      const c = cy * width + cx;
      if (c === best || !apart(i, c)) return;
      const d = this.patchDistance(i, c, bestD);
      if (d < bestD) {
        bestD = d;
        best = c;
      }
    };
    for (let sweep = 0; sweep < sweeps; sweep++) {
      const step = sweep & 1 ? -1 : 1;
      const yStart = step > 0 ? s.y0 : s.y1 - 1;
      const xStart = step > 0 ? s.x0 : s.x1 - 1;
      for (let y = yStart; y >= s.y0 && y < s.y1; y += step) {
        for (let x = xStart; x >= s.x0 && x < s.x1; x += step) {
          i = y * width + x;
          best = similar[i];
          bestD = dist[i];
          const px = x - step;
          if (px >= s.x0 && px < s.x1 && similar[i - step] >= 0) {
            const nb = similar[i - step];
            const nbx = nb % width;
            consider(nbx + step, (nb - nbx) / width);
          }
          const py = y - step;
          if (py >= s.y0 && py < s.y1 && similar[i - step * width] >= 0) {
            const nb = similar[i - step * width];
            const nbx = nb % width;
            consider(nbx, (nb - nbx) / width + step);
          }
          if (best < 0) consider(s.x0 + rng.below(sw), s.y0 + rng.below(sh));
          if (best < 0) consider(s.x0 + rng.below(sw), s.y0 + rng.below(sh));
          if (best >= 0) {
            const bx = best % width;
            const by = (best - bx) / width;
            for (let rad = maxRadius; rad >= 1; rad = Math.floor(rad / shrinkBy)) {
              consider(bx + Math.floor((rng.unit() * 2 - 1) * rad), by + Math.floor((rng.unit() * 2 - 1) * rad));
            }
          }
          similar[i] = best;
          dist[i] = bestD;
        }
      }
    }
    return similar;
  }

  /** Random valid source for every target (coarsest level). */
  randomField(rng: Rng): void {
    const s = this.sources;
    const sw = s.x1 - s.x0;
    const sh = s.y1 - s.y0;
    const { nnf, targets, width } = this;
    for (let k = 0; k < targets.length; k++) {
      nnf[targets[k]] = (s.y0 + rng.below(sh)) * width + s.x0 + rng.below(sw);
    }
  }

  /** Initial field from the next coarser level: double the offsets, clamp into the valid sources. */
  upsampleField(coarse: LevelSolver): void {
    const s = this.sources;
    const { nnf, targets, width } = this;
    const cw = coarse.width;
    const ch = coarse.height;
    for (let k = 0; k < targets.length; k++) {
      const t = targets[k];
      const x = t % width;
      const y = (t - x) / width;
      const cx = Math.min(x >> 1, cw - 1);
      const cy = Math.min(y >> 1, ch - 1);
      const cs = coarse.nnf[cy * cw + cx];
      let sx = x;
      let sy = y;
      if (cs >= 0) {
        const csx = cs % cw;
        sx = 2 * csx + (x - 2 * cx);
        sy = 2 * ((cs - csx) / cw) + (y - 2 * cy);
      }
      sx = sx < s.x0 ? s.x0 : sx >= s.x1 ? s.x1 - 1 : sx;
      sy = sy < s.y0 ? s.y0 : sy >= s.y1 ? s.y1 - 1 : sy;
      nnf[t] = sy * width + sx;
    }
  }

  /** Recomputes the descriptor (colour + weighted luminance gradient) from the current estimate. */
  computeFeatures(y0 = 0, y1 = this.height): void {
    const { width, height, rgb, features } = this;
    const g = this.tuning.gradientWeight * 0.5;
    for (let y = y0; y < y1; y++) {
      const up = y > 0 ? y - 1 : 0;
      const dn = y < height - 1 ? y + 1 : height - 1;
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        const lf = x > 0 ? i - 1 : i;
        const rt = x < width - 1 ? i + 1 : i;
        const u = up * width + x;
        const d = dn * width + x;
        const gx =
          0.299 * (rgb[rt * 3] - rgb[lf * 3]) + 0.587 * (rgb[rt * 3 + 1] - rgb[lf * 3 + 1]) + 0.114 * (rgb[rt * 3 + 2] - rgb[lf * 3 + 2]);
        const gy =
          0.299 * (rgb[d * 3] - rgb[u * 3]) + 0.587 * (rgb[d * 3 + 1] - rgb[u * 3 + 1]) + 0.114 * (rgb[d * 3 + 2] - rgb[u * 3 + 2]);
        const o = i * FEATURES;
        features[o] = rgb[i * 3];
        features[o + 1] = rgb[i * 3 + 1];
        features[o + 2] = rgb[i * 3 + 2];
        features[o + 3] = gx * g;
        features[o + 4] = gy * g;
      }
    }
  }

  /** Squared descriptor distance between the patches centred at t and s; stops early once above `bound`. */
  patchDistance(t: number, s: number, bound: number): number {
    const f = this.features;
    const r = this.radius;
    const w = this.width;
    const rowLen = (2 * r + 1) * FEATURES;
    const rowStride = w * FEATURES;
    let ti = (t - r * w - r) * FEATURES;
    let si = (s - r * w - r) * FEATURES;
    let sum = 0;
    for (let dy = -r; dy <= r; dy++) {
      for (let k = 0; k < rowLen; k++) {
        const d = f[ti + k] - f[si + k];
        sum += d * d;
      }
      if (sum >= bound) return sum;
      ti += rowStride;
      si += rowStride;
    }
    return sum;
  }

  private computeSaliency(): Float32Array {
    const { width, height, features } = this;
    const s = this.sources;
    const r = this.radius;
    // Integral image of gradient energy, then a box sum per source patch.
    const iw = width + 1;
    const integral = new Float64Array(iw * (height + 1));
    for (let y = 0; y < height; y++) {
      let row = 0;
      for (let x = 0; x < width; x++) {
        const o = (y * width + x) * FEATURES;
        row += features[o + 3] * features[o + 3] + features[o + 4] * features[o + 4];
        integral[(y + 1) * iw + x + 1] = integral[y * iw + x + 1] + row;
      }
    }
    const sal = new Float32Array(width * height);
    let total = 0;
    let count = 0;
    for (let y = s.y0; y < s.y1; y++) {
      for (let x = s.x0; x < s.x1; x++) {
        const v =
          integral[(y + r + 1) * iw + x + r + 1] - integral[(y - r) * iw + x + r + 1] - integral[(y + r + 1) * iw + x - r] + integral[(y - r) * iw + x - r];
        sal[y * width + x] = v;
        total += v;
        count++;
      }
    }
    const inv = count && total > 0 ? count / total : 0;
    for (let y = s.y0; y < s.y1; y++) {
      for (let x = s.x0; x < s.x1; x++) {
        const i = y * width + x;
        sal[i] = Math.min(this.tuning.saliencyCap, Math.max(this.tuning.saliencyFloor, sal[i] * inv));
      }
    }
    return sal;
  }

  /** Distances of targets[k0..k1) under the current estimate; returns their sum (see `setMeanDistance`). */
  refreshDistanceRange(k0: number, k1: number): number {
    const { nnf, nnd, targets } = this;
    let total = 0;
    for (let k = k0; k < k1; k++) {
      const t = targets[k];
      const d = this.patchDistance(t, nnf[t], Infinity);
      nnd[t] = d;
      total += d;
    }
    return total;
  }

  /** Reuse counts of the whole field into `usage`. */
  countUsage(usage: Int32Array): void {
    const { nnf, targets } = this;
    usage.fill(0);
    for (let k = 0; k < targets.length; k++) usage[nnf[targets[k]]]++;
  }

  setMeanDistance(total: number): void {
    this.meanDistance = this.targets.length ? total / this.targets.length + 1 : 1;
  }

  /**
   * One PatchMatch sweep over targets[k0..k1) (all by default): propagation from the two previous
   * neighbours in scan order, then random search; reuse counts read from and kept in `usage`.
   */
  search(reverse: boolean, rng: Rng, k0 = 0, k1 = this.targets.length, usage = this.usage): void {
    const { nnf, targets, width, similar } = this;
    const s = this.sources;
    const lambda = this.tuning.reusePenalty * this.meanDistance;
    const shrink = similar ? this.tuning.searchShrinkWithSimilar : 2;
    this.prepareSearch();
    const sal = this.saliency!;
    this.layoutScale = this.tuning.layoutPrior * this.meanDistance;
    this.searchUsage = usage;
    const maxRadius = Math.max(s.x1 - s.x0, s.y1 - s.y0);
    const step = reverse ? -1 : 1;
    // Propagation stays inside the range: another thread may be writing the field beyond it.
    const lo = k0 < k1 ? targets[k0] : 0;
    const hi = k0 < k1 ? targets[k1 - 1] : -1;
    for (let k = reverse ? k1 - 1 : k0; k >= k0 && k < k1; k += step) {
      const t = targets[k];
      const tx = t % width;
      this.bestCost = this.nnd[t] + this.extraCost(t, nnf[t], usage[nnf[t]] - 1, lambda, sal);
      // Propagation: the neighbour's source shifted by one, if that neighbour is a target.
      for (let pass = 0; pass < 2; pass++) {
        const nb = pass === 0 ? t - step : t - step * width;
        if (pass === 0 && (tx - step < 0 || tx - step >= width)) continue;
        if (nb < lo || nb > hi) continue;
        const ns = nnf[nb];
        if (ns < 0) continue;
        const cand = ns + (t - nb);
        const cx = cand % width;
        const cy = (cand - cx) / width;
        if (cx < s.x0 || cx >= s.x1 || cy < s.y0 || cy >= s.y1) continue;
        this.improve(t, cand, lambda, sal);
      }
      // Enrichment: the look-alike of the current best source.
      if (similar) {
        const cand = similar[nnf[t]];
        if (cand >= 0) this.improve(t, cand, lambda, sal);
      }
      // Random search in windows of shrinking radius around the current best.
      const best = nnf[t];
      const bx = best % width;
      const by = (best - bx) / width;
      for (let rad = maxRadius; rad >= 1; rad = Math.floor(rad / shrink)) {
        let cx = bx + Math.floor((rng.unit() * 2 - 1) * rad);
        let cy = by + Math.floor((rng.unit() * 2 - 1) * rad);
        cx = cx < s.x0 ? s.x0 : cx >= s.x1 ? s.x1 - 1 : cx;
        cy = cy < s.y0 ? s.y0 : cy >= s.y1 ? s.y1 - 1 : cy;
        this.improve(t, cy * width + cx, lambda, sal);
      }
    }
  }

  private layoutScale = 0;
  /** The reuse counts the running search reads and keeps in step. */
  private searchUsage: Int32Array = new Int32Array(0);
  /** The visited target's cost with its current source (patch distance + extraCost), kept by `improve`. */
  private bestCost = 0;

  /**
   * What target `t` pays for source `c` beyond the patch distance, with `others` other targets using it:
   * `lambda × saliency` per other user (the no-cloning penalty) and the layout prior.
   */
  private extraCost(t: number, c: number, others: number, lambda: number, sal: Float32Array): number {
    const cx = c % this.width;
    const o = t * 3;
    const L = this.layout!;
    return (
      lambda * sal[c] * others +
      this.layoutScale * (L[o] * ((c - cx) / this.width - this.sources.y0) + L[o + 1] * (cx - this.sources.x0) + L[o + 2])
    );
  }

  /**
   * Moves target `t` to source `cand` when that lowers its cost (patch distance + extraCost). Keeps the
   * reuse counts in step.
   */
  private improve(t: number, cand: number, lambda: number, sal: Float32Array): void {
    const { nnf, nnd } = this;
    const usage = this.searchUsage;
    const best = nnf[t];
    if (cand === best) return;
    const bound = this.bestCost - this.extraCost(t, cand, usage[cand], lambda, sal);
    if (bound <= 0) return;
    const d = this.patchDistance(t, cand, bound);
    if (d < bound) {
      usage[best]--;
      usage[cand]++;
      nnf[t] = cand;
      nnd[t] = d;
      this.bestCost = nnd[t] + this.extraCost(t, cand, usage[cand] - 1, lambda, sal);
    }
  }

  /** Voting weights: distance-to-known confidence × similarity of the match. */
  computeVoteWeights(useSimilarity: boolean, k0 = 0, k1 = this.targets.length): void {
    const { targets, voteWeight, confidence, nnd } = this;
    const inv = 1 / this.meanDistance;
    for (let k = k0; k < k1; k++) {
      const t = targets[k];
      voteWeight[t] = useSimilarity ? confidence[t] * Math.exp(-nnd[t] * inv) + 1e-12 : confidence[t] + 1e-12;
    }
  }

  /** Every unknown pixel becomes the weighted mean of what the overlapping target patches' sources say. */
  vote(y0 = 0, y1 = this.height): void {
    const { width, height, known, rgb, nnf, voteWeight } = this;
    const r = this.radius;
    for (let y = y0; y < y1; y++) {
      const qy0 = Math.max(r, y - r);
      const qy1 = Math.min(height - r - 1, y + r);
      const inKnownRows = y >= known.y0 && y < known.y1;
      for (let x = 0; x < width; x++) {
        if (inKnownRows && x >= known.x0 && x < known.x1) continue;
        const qx0 = Math.max(r, x - r);
        const qx1 = Math.min(width - r - 1, x + r);
        let s0 = 0, s1 = 0, s2 = 0, sw = 0;
        for (let qy = qy0; qy <= qy1; qy++) {
          const rowDelta = (y - qy) * width;
          for (let qx = qx0; qx <= qx1; qx++) {
            const q = qy * width + qx;
            const src = nnf[q];
            if (src < 0) continue;
            const wq = voteWeight[q];
            const si = (src + rowDelta + (x - qx)) * 3;
            s0 += rgb[si] * wq;
            s1 += rgb[si + 1] * wq;
            s2 += rgb[si + 2] * wq;
            sw += wq;
          }
        }
        if (sw > 0) {
          const o = (y * width + x) * 3;
          rgb[o] = s0 / sw;
          rgb[o + 1] = s1 / sw;
          rgb[o + 2] = s2 / sw;
        }
      }
    }
  }
}
