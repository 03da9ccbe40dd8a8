/**
 * The decode budget of one process: judging an upload decodes it in full, and a flood of small files
 * that declare megapixels would otherwise decode them all at once. Each decode reserves its estimated
 * memory (decodeMemoryBytes) and waits its turn, first come first served, while the reservations
 * running would exceed the budget; one larger than the whole budget runs alone.
 */
import { Semaphore } from 'async-mutex';
import type { DecodeGate } from './decode.js';

const UNIT = 1024 * 1024;

export interface DecodeBudget extends DecodeGate {
  /** Decodes waiting for their turn. */
  readonly waiting: number;
}

export function createDecodeGate(budgetBytes: number): DecodeBudget {
  const capacity = Math.max(1, Math.floor(budgetBytes / UNIT));
  const semaphore = new Semaphore(capacity);
  let waiting = 0;
  return {
    get waiting() {
      return waiting;
    },
    async run(bytes, work) {
      const weight = Math.min(capacity, Math.max(1, Math.ceil(bytes / UNIT)));
      waiting++;
      const [, release] = await semaphore.acquire(weight).finally(() => waiting--);
      try {
        return await work();
      } finally {
        release();
      }
    },
  };
}
