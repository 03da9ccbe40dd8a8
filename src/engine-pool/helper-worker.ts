/**
 * Worker-thread entry of the helper thread (compiled to dist/src/engine-pool/helper-worker.js): for a
 * result that the calling thread computes, builds the look-alike graphs coarse to fine, runs the second
 * half of the working level's EM steps on shared memory (engine/halves.ts), and computes a range of the
 * full-resolution rows.
 */
import { parentPort } from 'node:worker_threads';
import { HalfRunner, type HalfOp } from '../engine/halves.js';
import { finalizeRows, lookAlikeGraph, type FinalizeInput, type LookAlikeInput } from '../engine/index.js';

export type HelperRequest =
  /** `chained`: start from the graph this thread built last (the next coarser level's); else from none. */
  | { id: number; kind: 'lookAlike'; input: LookAlikeInput; chained: boolean }
  | { id: number; kind: 'half'; op: HalfOp }
  | { id: number; kind: 'rows'; input: FinalizeInput; y0: number; y1: number };

export type HelperReply = { id: number; result: Int32Array | Uint8Array | number } | { id: number; error: string };

const port = parentPort!;
const halves = new HalfRunner();
let lastGraph: { similar: Int32Array; width: number } | null = null;

port.on('message', (req: HelperRequest) => {
  try {
    if (req.kind === 'half') {
      port.postMessage({ id: req.id, result: halves.run(req.op) } satisfies HelperReply);
      return;
    }
    if (req.kind === 'lookAlike') {
      const similar = lookAlikeGraph(req.input, req.chained ? lastGraph : null);
      lastGraph = { similar, width: req.input.width };
      // Copied, not moved: the next finer graph starts from it.
      port.postMessage({ id: req.id, result: similar } satisfies HelperReply);
      return;
    }
    halves.detach();
    lastGraph = null;
    const rows = finalizeRows(req.input, req.y0, req.y1);
    port.postMessage({ id: req.id, result: rows } satisfies HelperReply, [rows.buffer as ArrayBuffer]);
  } catch (err) {
    port.postMessage({ id: req.id, error: err instanceof Error ? err.message : String(err) } satisfies HelperReply);
  }
});
