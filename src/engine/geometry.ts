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
 * The contract's geometry rule: an original of W×H becomes round(W·(1+left+right)) × round(H·(1+up+down)),
 * with the original at (round(W·left), round(H·up)). The far edges are clamped so that the original always
 * fits even when rounding would make a side one pixel short.
 */
export function expansionGeometry(width: number, height: number, r: ExpansionRatios): ExpansionGeometry {
  const x = Math.round(width * r.left);
  const y = Math.round(height * r.up);
  const outW = Math.max(Math.round(width * (1 + r.left + r.right)), x + width);
  const outH = Math.max(Math.round(height * (1 + r.up + r.down)), y + height);
  return { width: outW, height: outH, x, y };
}
