/**
 * The frame around the picture: four borders to drag outward (mouse, touch or pen) or move with the arrow
 * keys, each held inside the contract's limits as it moves. The view fits the frame with room around it
 * to drag into, and fits again when a drag ends, so the scale never changes under the pointer.
 */
import type { ExpansionRatios } from '../contract/geometry.js';
import { maxFor, NO_EXPANSION, roundRatio, withSide, type Side } from './frame-math.js';

/** Room around the frame to drag into, as a share of the picture's size. */
const MARGIN = 0.3;
const KEY_STEP = 0.05;
const BIG_KEY_STEP = 0.25;

/** Which way a key grows each side. */
const GROW_KEYS: Record<Side, { grow: string; shrink: string }> = {
  up: { grow: 'ArrowUp', shrink: 'ArrowDown' },
  down: { grow: 'ArrowDown', shrink: 'ArrowUp' },
  left: { grow: 'ArrowLeft', shrink: 'ArrowRight' },
  right: { grow: 'ArrowRight', shrink: 'ArrowLeft' },
};

const SIDE_NAMES: Record<Side, string> = { up: 'top', down: 'bottom', left: 'left', right: 'right' };

export interface FrameEditorElements {
  stage: HTMLElement;
  frame: HTMLElement;
  original: HTMLImageElement;
  handles: HTMLElement[];
}

/** Called on every change: the new ratios, and whether a limit stopped the last move. */
export type FrameChange = (ratios: ExpansionRatios, limited: boolean) => void;

interface View {
  /** Stage pixels per picture pixel. */
  scale: number;
  /** Stage position of the picture's top-left corner. */
  x: number;
  y: number;
}

export class FrameEditor {
  private size: { width: number; height: number } | null = null;
  private current: ExpansionRatios = NO_EXPANSION;
  private view: View = { scale: 1, x: 0, y: 0 };
  private dragging = false;

  constructor(
    private readonly els: FrameEditorElements,
    private readonly onChange: FrameChange,
  ) {
    for (const handle of els.handles) this.wireHandle(handle, handle.dataset.side as Side);
    new ResizeObserver(() => this.fit()).observe(els.stage);
  }

  get ratios(): ExpansionRatios {
    return this.current;
  }

  setPicture(url: string, width: number, height: number): void {
    this.size = { width, height };
    this.els.original.src = url;
    this.current = NO_EXPANSION;
    this.fit();
  }

  /** Ratios set from outside (fields, presets): shown as they are (the caller judged them). */
  setRatios(ratios: ExpansionRatios): void {
    this.current = ratios;
    this.fit();
  }

  /** Chooses the scale and position that show the frame with room around it, then draws. */
  private fit(): void {
    if (!this.size || this.dragging) return this.draw();
    const { width: w, height: h } = this.size;
    const r = this.current;
    const left = -(r.left + MARGIN) * w;
    const top = -(r.up + MARGIN) * h;
    const spanX = (1 + r.left + r.right + 2 * MARGIN) * w;
    const spanY = (1 + r.up + r.down + 2 * MARGIN) * h;
    const box = this.els.stage.getBoundingClientRect();
    const scale = Math.min(box.width / spanX, box.height / spanY);
    this.view = {
      scale,
      x: (box.width - spanX * scale) / 2 - left * scale,
      y: (box.height - spanY * scale) / 2 - top * scale,
    };
    this.draw();
  }

  private draw(): void {
    if (!this.size) return;
    const { width: w, height: h } = this.size;
    const { scale, x, y } = this.view;
    const r = this.current;
    const frame = this.els.frame.style;
    frame.left = `${x - r.left * w * scale}px`;
    frame.top = `${y - r.up * h * scale}px`;
    frame.width = `${(1 + r.left + r.right) * w * scale}px`;
    frame.height = `${(1 + r.up + r.down) * h * scale}px`;
    const original = this.els.original.style;
    original.left = `${r.left * w * scale}px`;
    original.top = `${r.up * h * scale}px`;
    original.width = `${w * scale}px`;
    original.height = `${h * scale}px`;
    for (const handle of this.els.handles) {
      const side = handle.dataset.side as Side;
      const max = maxFor(r, side);
      handle.setAttribute('aria-valuemin', '0');
      handle.setAttribute('aria-valuemax', String(max));
      handle.setAttribute('aria-valuenow', String(r[side]));
      handle.setAttribute('aria-valuetext', `${SIDE_NAMES[side]}: ${r[side]} × the ${side === 'up' || side === 'down' ? 'height' : 'width'}${r[side] >= max ? ' (at the limit)' : ''}`);
    }
  }

  private move(side: Side, value: number): void {
    const { ratios, limited } = withSide(this.current, side, value);
    this.current = ratios;
    this.draw();
    this.onChange(ratios, limited);
  }

  private wireHandle(handle: HTMLElement, side: Side): void {
    let start: { x: number; y: number; value: number } | null = null;
    handle.addEventListener('pointerdown', (e) => {
      if (!this.size) return;
      e.preventDefault();
      handle.setPointerCapture(e.pointerId);
      handle.focus();
      start = { x: e.clientX, y: e.clientY, value: this.current[side] };
      this.dragging = true;
      this.els.stage.classList.add('dragging');
    });
    handle.addEventListener('pointermove', (e) => {
      if (!start || !this.size) return;
      const { scale } = this.view;
      const dx = (e.clientX - start.x) / (scale * this.size.width);
      const dy = (e.clientY - start.y) / (scale * this.size.height);
      const delta = side === 'up' ? -dy : side === 'down' ? dy : side === 'left' ? -dx : dx;
      this.move(side, start.value + delta);
    });
    const end = (): void => {
      if (!start) return;
      start = null;
      this.dragging = false;
      this.els.stage.classList.remove('dragging');
      this.fit();
    };
    handle.addEventListener('pointerup', end);
    handle.addEventListener('pointercancel', end);
    handle.addEventListener('keydown', (e) => {
      if (!this.size) return;
      const keys = GROW_KEYS[side];
      const step = e.shiftKey || e.key === 'PageUp' || e.key === 'PageDown' ? BIG_KEY_STEP : KEY_STEP;
      const value = this.current[side];
      let next: number | null = null;
      if (e.key === keys.grow || e.key === 'PageUp') next = value + step;
      else if (e.key === keys.shrink || e.key === 'PageDown') next = value - step;
      else if (e.key === 'Home') next = 0;
      else if (e.key === 'End') next = maxFor(this.current, side);
      if (next === null) return;
      e.preventDefault();
      this.move(side, roundRatio(next));
      this.fit();
    });
  }
}
