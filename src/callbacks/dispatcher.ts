/**
 * The callback dispatcher: delivers the outbox (the deliveries TaskStore records) to the receivers.
 * Each delivery is signed afresh per attempt (new timestamp) under a stable webhook-id; a 2xx answer
 * delivers it, anything else is retried with exponential backoff and full jitter until `retryForMs`
 * after the delivery was recorded, then given up. Deliveries are leased in the store while in flight,
 * so several dispatchers (processes) may share one store, and a crashed one's deliveries come back.
 */
import type { Logger } from 'pino';
import type { CallbackDelivery, CallbackOutbox } from '../storage/callback-outbox.js';
import type { KeyStore } from '../storage/key-store.js';
import type { DeliverFn } from './deliver.js';
import { signWebhook } from './signing.js';

/** What the dispatcher logs through: pino's Logger, or anything with the same two-argument calls. */
export type DispatcherLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

export interface CallbackDispatcherOptions {
  outbox: Omit<CallbackOutbox, 'close'>;
  /** Where the secret that signs an account's callbacks comes from. */
  keys: Pick<KeyStore, 'webhookSecret'>;
  deliver: DeliverFn;
  logger: DispatcherLogger;
  /** Time a receiver has to answer (config.callbackTimeoutMs). Default 10 s. */
  timeoutMs?: number;
  /** How long after a delivery was recorded it is still retried (config.callbackRetryMs). Default 25 h. */
  retryForMs?: number;
  /** First retry's delay cap; it doubles per failed attempt. Default 5 s. */
  backoffBaseMs?: number;
  /** Largest delay cap. Default 1 h. */
  backoffMaxMs?: number;
  /** How often the outbox is polled when nothing woke the dispatcher. Default 1 s. */
  pollIntervalMs?: number;
  /** Deliveries in flight at once. Default 16. */
  concurrency?: number;
  /**
   * How long a claimed delivery stays invisible to other dispatchers; must exceed one attempt
   * (timeoutMs). Default timeoutMs + 30 s.
   */
  leaseMs?: number;
  userAgent?: string;
  /** After each attempt whose outcome was recorded: delivered, failed (retried later), or given up. */
  onAttempt?: (outcome: 'delivered' | 'failed' | 'given_up') => void;
  /** Clock and randomness, for tests. */
  now?: () => number;
  random?: () => number;
}

/**
 * Delay before the retry that follows the `failedAttempts`-th failure ("full jitter": uniform in
 * [0, min(max, base · 2^(failedAttempts−1))]), so that receivers coming back up are not stampeded.
 */
export function retryDelayMs(failedAttempts: number, baseMs: number, maxMs: number, random: () => number): number {
  const exponent = Math.min(Math.max(failedAttempts - 1, 0), 52);
  const cap = Math.min(maxMs, baseMs * 2 ** exponent);
  return Math.floor(random() * cap);
}

export class CallbackDispatcher {
  private readonly outbox: Omit<CallbackOutbox, 'close'>;
  private readonly keys: Pick<KeyStore, 'webhookSecret'>;
  private readonly deliver: DeliverFn;
  private readonly log: DispatcherLogger;
  private readonly timeoutMs: number;
  private readonly retryForMs: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly pollIntervalMs: number;
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly userAgent: string;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly onAttempt: NonNullable<CallbackDispatcherOptions['onAttempt']>;

  private running = false;
  private loop: Promise<void> | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  /** Set by wake() so that a wake during a claim is not lost. */
  private wakeRequested = false;
  private interruptSleep: (() => void) | null = null;

  constructor(options: CallbackDispatcherOptions) {
    this.outbox = options.outbox;
    this.keys = options.keys;
    this.deliver = options.deliver;
    this.log = options.logger;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.retryForMs = options.retryForMs ?? 25 * 3_600_000;
    this.backoffBaseMs = options.backoffBaseMs ?? 5_000;
    this.backoffMaxMs = options.backoffMaxMs ?? 3_600_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.concurrency = options.concurrency ?? 16;
    this.leaseMs = options.leaseMs ?? this.timeoutMs + 30_000;
    this.userAgent = options.userAgent ?? 'Outpaint-Webhooks/1';
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.onAttempt = options.onAttempt ?? (() => undefined);
    if (this.leaseMs <= this.timeoutMs) throw new RangeError('leaseMs must exceed timeoutMs');
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Look at the outbox now (call after recording a status change) instead of at the next poll. */
  wake(): void {
    this.wakeRequested = true;
    this.interruptSleep?.();
  }

  /**
   * Stops claiming, waits for the deliveries in flight (each is bounded by timeoutMs), then flushes: one
   * last attempt at what is due now (at most `concurrency` deliveries, at once), so that the status
   * changes of jobs that finished during a graceful shutdown reach their receivers before the process
   * exits. Whatever fails stays in the outbox for the next start.
   */
  async stop(): Promise<void> {
    const wasRunning = this.loop !== null;
    this.running = false;
    this.interruptSleep?.();
    await this.loop;
    this.loop = null;
    await Promise.allSettled([...this.inFlight]);
    if (!wasRunning) return;
    try {
      await this.claimAndStart();
    } catch (err) {
      this.log.error({ err }, 'claiming callbacks failed');
    }
    await Promise.allSettled([...this.inFlight]);
  }

  get deliveriesInFlight(): number {
    return this.inFlight.size;
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.wakeRequested = false;
      let full = false;
      try {
        full = await this.claimAndStart();
      } catch (err) {
        this.log.error({ err }, 'claiming callbacks failed');
      }
      // A full batch suggests more is due: claim again once a slot frees up (its finish wakes us).
      if (!this.running || this.wakeRequested) continue;
      await this.sleep(full && this.inFlight.size < this.concurrency ? 0 : this.pollIntervalMs);
    }
  }

  /** Claims as many due deliveries as there are free slots; true when it filled every slot. */
  private async claimAndStart(): Promise<boolean> {
    const free = this.concurrency - this.inFlight.size;
    if (free <= 0) return true;
    const due = await this.outbox.claimDue(this.now(), free, this.leaseMs);
    for (const delivery of due) {
      const attempt = this.attempt(delivery).finally(() => {
        this.inFlight.delete(attempt);
        if (this.running) this.wake();
      });
      this.inFlight.add(attempt);
    }
    return due.length === free;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.interruptSleep = null;
        resolve();
      }
      this.interruptSleep = done;
    });
  }

  /** One attempt at one delivery; never throws. */
  private async attempt(delivery: CallbackDelivery): Promise<void> {
    const log = { callbackId: delivery.id, taskId: delivery.taskId, attempt: delivery.attempts + 1 };
    let failure: string;
    try {
      failure = await this.post(delivery);
    } catch (err) {
      failure = err instanceof Error ? err.message : String(err);
    }
    try {
      if (failure === '') {
        await this.outbox.markDelivered(delivery.id, this.now());
        this.onAttempt('delivered');
        this.log.debug(log, 'callback delivered');
        return;
      }
      const next = this.nextAttemptAt(delivery, this.now());
      await this.outbox.reschedule(delivery.id, next, failure);
      this.onAttempt(next === null ? 'given_up' : 'failed');
      if (next === null) {
        this.log.warn({ ...log, error: failure }, 'callback failed; retry window over, giving up');
      } else {
        this.log.info({ ...log, error: failure, retryInMs: next - this.now() }, 'callback failed; will retry');
      }
    } catch (err) {
      // The lease runs out and the delivery is attempted again.
      this.log.error({ ...log, err }, 'recording a callback attempt failed');
    }
  }

  /** Sends one attempt; resolves with '' when delivered, else with why not. */
  private async post(delivery: CallbackDelivery): Promise<string> {
    const secret = await this.keys.webhookSecret(delivery.accountId);
    if (secret === null) return 'the account has no live API key to sign callbacks with';
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': this.userAgent,
      ...signWebhook(secret, delivery.id, Math.floor(this.now() / 1000), delivery.body),
    };
    const { status } = await withDeadline(
      this.deliver(delivery.url, headers, delivery.body, { timeoutMs: this.timeoutMs }),
      // The DeliverFn enforces timeoutMs itself; this only guards against one that does not.
      this.timeoutMs + 1_000,
    );
    if (status >= 200 && status < 300) return '';
    return status >= 300 && status < 400 ? `HTTP ${status} (redirects are not followed)` : `HTTP ${status}`;
  }

  /** When to try again after a failed attempt, or null when the retry window is over. */
  private nextAttemptAt(delivery: CallbackDelivery, now: number): number | null {
    const deadline = delivery.createdAt + this.retryForMs;
    if (now >= deadline) return null;
    const delay = retryDelayMs(delivery.attempts + 1, this.backoffBaseMs, this.backoffMaxMs, this.random);
    // The last attempt happens at the deadline itself rather than being skipped.
    return Math.min(now + delay, deadline);
  }
}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
