/** The RateCounter contract: fixed windows per key. Every implementation must pass it. */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { RateCounter } from '../../src/storage/rate-counter.js';
import { sleep } from './fixtures.js';

export function rateCounterContract(name: string, open: () => Promise<{ counter: RateCounter; close(): Promise<void> }>): void {
  describe(`RateCounter contract: ${name}`, () => {
    let subject: { counter: RateCounter; close(): Promise<void> };
    beforeEach(async () => {
      subject = await open();
    });
    afterEach(async () => {
      await subject.close();
    });

    it('counts hits per key within a window and says when it resets', async () => {
      const hits = [];
      for (let i = 0; i < 3; i++) hits.push(await subject.counter.hit('account:a', 60_000));
      assert.deepEqual(hits.map((h) => h.count), [1, 2, 3]);
      for (const h of hits) assert.ok(h.resetInMs > 55_000 && h.resetInMs <= 60_000, `resetInMs ${h.resetInMs}`);
      assert.equal((await subject.counter.hit('account:b', 60_000)).count, 1);
    });

    it('starts a new window once the old one is over', async () => {
      await subject.counter.hit('ip:1', 200);
      assert.equal((await subject.counter.hit('ip:1', 200)).count, 2);
      await sleep(250);
      const fresh = await subject.counter.hit('ip:1', 200);
      assert.equal(fresh.count, 1);
      assert.ok(fresh.resetInMs > 100, `resetInMs ${fresh.resetInMs}`);
    });

    it('counts concurrent hits exactly', async () => {
      const hits = await Promise.all(Array.from({ length: 50 }, () => subject.counter.hit('account:c', 60_000)));
      assert.deepEqual(hits.map((h) => h.count).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
    });
  });
}
