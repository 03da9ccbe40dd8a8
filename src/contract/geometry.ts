/**
 * The contract's geometry (docs/kling-api.md, "Create"): how big an expanded image is and where the
 * original sits in it. Pure arithmetic with no imports: the engine computes its canvas with it, the page
 * shows the output size with it, so the two always agree.
 */

/** How far to grow each side, as multiples of the original's height (up, down) or width (left, right). */
export interface ExpansionRatios {
  up: number;
  down: number;
  left: number;
  right: number;
}

/** Where the original sits inside the expanded canvas. */
export interface ExpansionGeometry {
  /** Size of the expanded image. */
  width: number;
  height: number;
  /** Top-left corner of the original inside it. */
  x: number;
  y: number;
}

/**
 * An original of W×H becomes round(W·(1+left+right)) × round(H·(1+up+down)), with the original at
 * (round(W·left), round(H·up)). The far edges are clamped so that the original always fits even when
 * rounding would make a side one pixel short. `round` is round-half-to-even (as Python's and numpy's
 * round): 385 × 0.5 = 192.5 places the original at 192, where the shared benchmark expects it.
 */
export function expansionGeometry(width: number, height: number, r: ExpansionRatios): ExpansionGeometry {
  const x = roundHalfEven(width * r.left);
  const y = roundHalfEven(height * r.up);
  const outW = Math.max(roundHalfEven(width * (1 + r.left + r.right)), x + width);
  const outH = Math.max(roundHalfEven(height * (1 + r.up + r.down)), y + height);
  return { width: outW, height: outH, x, y };
}

/** Nearest integer; exact halves go to the even neighbour. */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}
