/** The SpaceGuard of the embedded storage: free space on the file systems of its directories (statfs). */
import fs from 'node:fs/promises';
import type { SpaceGuard } from '../space.js';
import { megabytes } from '../../util/format.js';

/** How long one reading is trusted: creates and claims ask often, the disk changes slowly. */
const CACHE_MS = 1000;

export function diskSpaceGuard(dirs: string[], minFreeBytes: number): SpaceGuard {
  let cached: { at: number; shortage: string | null } | null = null;
  const measure = async (): Promise<string | null> => {
    for (const dir of dirs) {
      let free: number;
      try {
        const s = await fs.statfs(dir);
        free = s.bavail * s.bsize;
      } catch {
        continue; // not created yet: its parent is measured too
      }
      if (free < minFreeBytes) return `${megabytes(free)} free on ${dir}, below the ${megabytes(minFreeBytes)} kept free (OUTPAINT_MIN_FREE_MB)`;
    }
    return null;
  };
  return {
    async shortage() {
      if (minFreeBytes <= 0) return null;
      const now = Date.now();
      if (!cached || now - cached.at >= CACHE_MS) cached = { at: now, shortage: await measure() };
      return cached.shortage;
    },
  };
}
