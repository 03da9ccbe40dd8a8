/**
 * The arithmetic of the frame: how far each side may grow given the others (the contract's limits: each
 * ratio at most 2, (1 + left + right) × (1 + up + down) at most 3), and the presets. No DOM here.
 */
import type { ExpansionRatios } from '../contract/geometry.js';
import { LIMITS } from '../contract/rules.js';

export type Side = keyof ExpansionRatios;
export const SIDES: readonly Side[] = ['up', 'down', 'left', 'right'];

export const NO_EXPANSION: ExpansionRatios = { up: 0, down: 0, left: 0, right: 0 };

/** Ratios are kept to thousandths: what the fields show is what is sent. */
export function roundRatio(v: number): number {
  return Math.round(v * 1000) / 1000;
}

export function areaOf(r: ExpansionRatios): number {
  return (1 + r.left + r.right) * (1 + r.up + r.down);
}

/** The largest value `side` can take with the other three as they are. */
export function maxFor(r: ExpansionRatios, side: Side): number {
  const horizontal = side === 'left' || side === 'right';
  const across = horizontal ? 1 + r.up + r.down : 1 + r.left + r.right;
  const sameAxisOther = side === 'left' ? r.right : side === 'right' ? r.left : side === 'up' ? r.down : r.up;
  // Floor to thousandths so that the rounded value never breaks the area rule.
  const byArea = Math.floor((LIMITS.maxArea / across - 1 - sameAxisOther) * 1000 + 1e-6) / 1000;
  return Math.max(0, Math.min(LIMITS.maxRatio, byArea));
}

/** `side` set to `value`, held inside its limits; `limited` says whether it is at (or was stopped by) the limit. */
export function withSide(r: ExpansionRatios, side: Side, value: number): { ratios: ExpansionRatios; limited: boolean } {
  const max = maxFor(r, side);
  const wanted = roundRatio(Math.max(0, value));
  const limited = wanted >= max;
  return { ratios: { ...r, [side]: limited ? max : wanted }, limited };
}

export type Preset = '16:9' | '9:16' | '1:1' | '4:3' | '2x-wider';

/**
 * Ratios that grow a W×H picture evenly on both sides of one axis to reach the preset's shape, as near as
 * the 3× area limit allows. `note` says when the shape is already there or could not be reached.
 */
export function presetRatios(preset: Preset, width: number, height: number): { ratios: ExpansionRatios; note: string } {
  if (preset === '2x-wider') return { ratios: { up: 0, down: 0, left: 0.5, right: 0.5 }, note: 'Twice as wide, half of it on each side.' };
  const [w, h] = preset.split(':').map(Number);
  const target = w / h;
  const aspect = width / height;
  if (Math.abs(target - aspect) < 0.005) return { ratios: NO_EXPANSION, note: `The picture is ${preset} already: drag a border to grow it.` };
  const growth = target > aspect ? target / aspect : aspect / target;
  const factor = Math.min(growth, LIMITS.maxArea);
  // Nearest thousandth, except at the area limit, where rounding up would break it.
  const each = (growth > LIMITS.maxArea ? Math.floor : Math.round)(((factor - 1) / 2) * 1000) / 1000;
  const ratios = target > aspect ? { up: 0, down: 0, left: each, right: each } : { up: each, down: each, left: 0, right: 0 };
  const note = growth > LIMITS.maxArea ? `${preset} needs ${growth.toFixed(2)}× the area; ${LIMITS.maxArea}× is the most, so this is as near as it goes.` : `${preset}, grown evenly on both sides.`;
  return { ratios, note };
}
