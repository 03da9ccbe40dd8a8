/**
 * One result on two threads: the helper's side (`HelperService`) and the caller's (`HelperLink` and the
 * two drivers), over a message port. The caller runs the `Synthesis`; the helper builds look-alike graphs,
 * runs the second half of every level's EM steps on shared memory (engine/halves.ts) and computes
 * a range of the full-resolution rows. Same bytes as one thread: the work is only moved, never changed.
 * Used by the CLI's dedicated helper thread (two-threads.ts) and by the pool's split last result.
 */
import type { MessagePort, Worker } from 'node:worker_threads';
import { HalfRunner, JOIN, type HalfOp } from '../engine/halves.js';
import {
  finalizeRows,
  lookAlikeGraph,
  splitRows,
  type ExpandedImage,
  type FinalizeInput,
  type LookAlikeInput,
  type Synthesis,
} from '../engine/index.js';

export type HelperRequest =
  /** `chained`: start from the graph this helper built last (the next coarser level's); else from none. */
  | { id: number; kind: 'lookAlike'; input: LookAlikeInput; chained: boolean }
  | { id: number; kind: 'half'; op: HalfOp }
  | { id: number; kind: 'rows'; input: FinalizeInput; y0: number; y1: number };

export type HelperReply = { id: number; result: Int32Array | Uint8Array | number } | { id: number; error: string };

/**
 * The handshake word of a shared result (the pool's): the helper joins only while the result still waits
 * for it; the result, or the pool once the result has settled (its thread may have died), marks it
 * finished; the pool marks the helper gone if the helper's thread died.
 */
export const HelperState = { Waiting: 0, Joined: 1, Finished: 2, Gone: 3 } as const;

/** A shared result's last message to its helper task. */
export const DONE = 'done';

/** A request as the caller writes it; `call` numbers it (Omit applied to each member of the union). */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type Result = Int32Array | Uint8Array | number;

/** Either end that posts to the other thread: a worker's parentPort, a channel's port, or the Worker. */
type Endpoint = Pick<MessagePort, 'postMessage'>;

export class HelperService {
  private readonly halves = new HalfRunner();
  private lastGraph: { similar: Int32Array; width: number } | null = null;

  /** Computes one request and posts its reply (or its error) to `to`. */
  answer(req: HelperRequest, to: Endpoint): void {
    try {
      if (req.kind === 'half') {
        to.postMessage({ id: req.id, result: this.halves.run(req.op) } satisfies HelperReply);
      } else if (req.kind === 'lookAlike') {
        const similar = lookAlikeGraph(req.input, req.chained ? this.lastGraph : null);
        this.lastGraph = { similar, width: req.input.width };
        // Copied, not moved: the next finer graph starts from it.
        to.postMessage({ id: req.id, result: similar } satisfies HelperReply);
      } else {
        this.halves.detach();
        this.lastGraph = null;
        const rows = finalizeRows(req.input, req.y0, req.y1);
        to.postMessage({ id: req.id, result: rows } satisfies HelperReply, [rows.buffer as ArrayBuffer]);
      }
    } catch (err) {
      to.postMessage({ id: req.id, error: err instanceof Error ? err.message : String(err) } satisfies HelperReply);
    }
  }
}

/** The caller's end: numbered requests, each answered by a promise. */
export class HelperLink {
  private readonly waiting = new Map<number, { resolve: (v: Result) => void; reject: (e: Error) => void }>();
  private nextId = 0;

  constructor(private readonly endpoint: Worker | MessagePort) {
    endpoint.on('message', (reply: HelperReply) => {
      const call = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if ('error' in reply) call?.reject(new Error(reply.error));
      else call?.resolve(reply.result);
    });
  }

  call<T extends Result>(request: WithoutId<HelperRequest>): Promise<T> {
    const id = this.nextId++;
    const reply = new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: Result) => void, reject });
      this.endpoint.postMessage({ ...request, id });
    });
    // Rejections are awaited where the result is needed; until then they must not count as unhandled.
    reply.catch(() => {});
    return reply;
  }

  /** Rejects every call still waiting (the helper is gone). */
  failAll(err: Error): void {
    for (const call of this.waiting.values()) call.reject(err);
    this.waiting.clear();
  }
}

/** Optimises the run's next level; the second half of each split step runs on the helper meanwhile. */
export async function runLevelWith(run: Synthesis, helper: HelperLink): Promise<void> {
  const steps = run.levelSteps(true);
  let pending: Promise<number> = Promise.resolve(0);
  for (let next = steps.next(); !next.done; ) {
    if (next.value === JOIN) next = steps.next(await pending);
    else {
      pending = helper.call<number>({ kind: 'half', op: next.value });
      next = steps.next();
    }
  }
}

/** The full-resolution pass, its second half of the new pixels' rows on the helper. */
export async function finishWith(run: Synthesis, helper: HelperLink): Promise<ExpandedImage> {
  const input = run.finalInput();
  const [, middle, end] = splitRows(input, 2);
  const far = helper.call<Uint8Array>({ kind: 'rows', input, y0: middle, y1: end });
  const near = finalizeRows(input, 0, middle, run.cancelCheck);
  const data = new Uint8Array(input.width * input.height * 3);
  data.set(near);
  data.set(await far, near.length);
  return run.finish(data);
}
