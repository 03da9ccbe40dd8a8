/**
 * Where a failure is shown: next to the control that caused it. The API's 1201 messages (and the
 * contract's, checked in the page) start with the field they are about, `field: rule`; that picks the
 * slot. Anything else goes to the slot of the action that failed.
 */
import { showError } from './dom.js';

/** The field a `field: rule` message names ("image", "n", "left_expansion_ratio", "expansion ratios", …). */
export function fieldOf(message: string): string | null {
  return /^([a-z_]+(?:\.[a-z_]+)*|expansion ratios): /.exec(message)?.[1] ?? null;
}

export class ErrorPlaces {
  constructor(
    /** Slots by field name; a name ending in "*" takes every field that starts with it. */
    private readonly slots: Record<string, HTMLElement>,
  ) {}

  /** Shows the failure in its field's slot, else in `fallback`; returns the slot used. */
  show(err: unknown, fallback: HTMLElement): HTMLElement {
    const message = err instanceof Error ? err.message : String(err);
    const slot = this.slotFor(fieldOf(message)) ?? fallback;
    showError(slot, message);
    return slot;
  }

  clear(): void {
    for (const slot of Object.values(this.slots)) showError(slot, null);
  }

  private slotFor(field: string | null): HTMLElement | null {
    if (!field) return null;
    for (const [name, slot] of Object.entries(this.slots)) {
      if (name.endsWith('*') ? field.startsWith(name.slice(0, -1)) : field === name) return slot;
    }
    return null;
  }
}
