/**
 * The frame's numbers: a field per side, the presets, and the live summary (output size in pixels from
 * the contract's geometry, area ratio). Typed values are judged by the contract's checkRatios, so a value
 * the API would refuse shows the API's own message here, before anything is sent.
 */
import { expansionGeometry, type ExpansionRatios } from '../contract/geometry.js';
import { checkRatios, LIMITS } from '../contract/rules.js';
import { showError } from './dom.js';
import { areaOf, NO_EXPANSION, presetRatios, SIDES, type Preset, type Side } from './frame-math.js';

export interface FrameControlsElements {
  fields: Record<Side, HTMLInputElement>;
  presets: HTMLButtonElement[];
  summary: HTMLElement;
  note: HTMLElement;
  error: HTMLElement;
}

export class FrameControls {
  private size: { width: number; height: number } | null = null;
  private valid = false;

  constructor(
    private readonly els: FrameControlsElements,
    /** Ratios the person typed or picked, judged valid; null for typed ones the API would refuse. */
    private readonly onPick: (ratios: ExpansionRatios | null) => void,
  ) {
    for (const side of SIDES) els.fields[side].addEventListener('input', () => this.typed());
    for (const button of els.presets) button.addEventListener('click', () => this.preset(button.dataset.preset as Preset | 'reset'));
  }

  /** True when the ratios shown are ones the API accepts. */
  get isValid(): boolean {
    return this.valid;
  }

  setPicture(width: number, height: number): void {
    this.size = { width, height };
    this.show(NO_EXPANSION, 'Drag a border outward, type the ratios, or pick a preset.');
  }

  /** Shows ratios (from a drag or from here): fields, output size and area, and the contract's verdict. */
  show(ratios: ExpansionRatios, note?: string): void {
    for (const side of SIDES) {
      const field = this.els.fields[side];
      if (document.activeElement !== field) field.value = String(ratios[side]);
    }
    if (note !== undefined) this.els.note.textContent = note;
    this.judge(ratios);
  }

  private judge(ratios: ExpansionRatios): void {
    if (!this.size) return;
    const { width, height } = expansionGeometry(this.size.width, this.size.height, ratios);
    this.els.summary.textContent = `Output ${width} × ${height} px · ${areaOf(ratios).toFixed(2)}× the area (at most ${LIMITS.maxArea}×)`;
    try {
      checkRatios(ratios);
      showError(this.els.error, null);
      this.valid = true;
    } catch (err) {
      // No growth at all is the starting state, not a mistake: say what to do instead.
      showError(this.els.error, areaOf(ratios) === 1 ? null : (err as Error).message);
      this.valid = false;
    }
  }

  private typed(): void {
    // An empty field counts as 0, as a missing ratio does in the API; anything else is judged as typed.
    const read = (side: Side): number => {
      const text = this.els.fields[side].value.trim();
      return text === '' ? 0 : Number(text);
    };
    const ratios: ExpansionRatios = { up: read('up'), down: read('down'), left: read('left'), right: read('right') };
    this.judge(ratios);
    this.onPick(this.valid ? ratios : null);
  }

  private preset(preset: Preset | 'reset'): void {
    if (!this.size) return;
    if (preset === 'reset') {
      this.show(NO_EXPANSION, 'Back to the picture as it is.');
      this.onPick(NO_EXPANSION);
      return;
    }
    const { ratios, note } = presetRatios(preset, this.size.width, this.size.height);
    this.show(ratios, note);
    this.onPick(ratios);
  }
}
