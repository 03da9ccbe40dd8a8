/**
 * The CallbackOutbox contract: every backend must pass it. Deliveries are recorded by TaskStore (in the
 * transaction of a create or a status change); the dispatcher passes its clock in.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createOk, newTask, type TaskBackend } from './fixtures.js';

export function callbackOutboxContract(name: string, open: () => Promise<TaskBackend>): void {
  describe(`CallbackOutbox contract: ${name}`, () => {
    let backend: TaskBackend;
    beforeEach(async () => {
      backend = await open();
    });
    afterEach(async () => {
      await backend.close();
    });
    /** Every delivery due now, leased for a moment (enough for these tests). */
    const dueNow = () => backend.outbox.claimDue(Date.now() + 1, 100, 1);

    async function oneDelivery() {
      await createOk(backend.tasks, newTask({ callbackUrl: 'https://example.com/hook' }), '{"n":1}');
    }

    it('leases claimed deliveries: nobody else gets them until the lease runs out', async () => {
      await oneDelivery();
      const now = Date.now() + 10;
      const [first] = await backend.outbox.claimDue(now, 10, 30_000);
      assert.ok(first);
      assert.equal(first.nextAttemptAt, now + 30_000);
      assert.deepEqual(await backend.outbox.claimDue(now, 10, 30_000), []);
      assert.deepEqual(await backend.outbox.claimDue(now + 29_999, 10, 30_000), []);
      const [again] = await backend.outbox.claimDue(now + 30_000, 10, 30_000);
      assert.equal(again?.id, first.id);
      assert.equal(await backend.outbox.pending(), 1);
    });

    it('claims at most `limit`, oldest due first, and nothing not yet due', async () => {
      for (let i = 0; i < 3; i++) {
        await createOk(backend.tasks, newTask({ callbackUrl: 'https://example.com/hook' }), String(i));
      }
      assert.deepEqual(await backend.outbox.claimDue(Date.now() - 60_000, 10, 1000), []);
      const now = Date.now() + 10;
      const firstTwo = await backend.outbox.claimDue(now, 2, 1000);
      assert.equal(firstTwo.length, 2);
      const rest = await backend.outbox.claimDue(now, 10, 1000);
      assert.equal(rest.length, 1);
      assert.deepEqual([...firstTwo, ...rest].map((d) => d.body).sort(), ['0', '1', '2']);
      const pushedBack = [...firstTwo, ...rest].find((d) => d.body === '1')!;
      await backend.outbox.reschedule(pushedBack.id, now + 5000, 'HTTP 500');
      const other = [...firstTwo, ...rest].find((d) => d.body === '2')!;
      await backend.outbox.reschedule(other.id, now + 2000, 'HTTP 500');
      // '0' is still under its lease until now + 1000, the earliest of the three.
      const order = await backend.outbox.claimDue(now + 10_000, 10, 1000);
      assert.deepEqual(order.map((d) => d.body), ['0', '2', '1']);
    });

    it('never claims a delivered delivery again', async () => {
      await oneDelivery();
      const [d] = await dueNow();
      await backend.outbox.markDelivered(d.id, Date.now());
      assert.equal(await backend.outbox.pending(), 0);
      assert.deepEqual(await backend.outbox.claimDue(Date.now() + 86_400_000, 10, 1), []);
    });

    it('counts failed attempts and retries at the time given', async () => {
      await oneDelivery();
      const now = Date.now() + 10;
      const [d] = await backend.outbox.claimDue(now, 10, 1000);
      await backend.outbox.reschedule(d.id, now + 60_000, 'HTTP 503');
      assert.deepEqual(await backend.outbox.claimDue(now + 59_999, 10, 1000), []);
      const [retry] = await backend.outbox.claimDue(now + 60_000, 10, 1000);
      assert.equal(retry.id, d.id);
      assert.equal(retry.attempts, 1);
      assert.equal(retry.body, d.body);
      assert.equal(retry.createdAt, d.createdAt);
      await backend.outbox.reschedule(d.id, now + 70_000, 'timeout');
      const [third] = await backend.outbox.claimDue(now + 70_000, 10, 1000);
      assert.equal(third.attempts, 2);
    });

    it('gives up on a delivery rescheduled to null', async () => {
      await oneDelivery();
      const [d] = await dueNow();
      await backend.outbox.reschedule(d.id, null, 'retry window over');
      assert.equal(await backend.outbox.pending(), 0);
      assert.deepEqual(await backend.outbox.claimDue(Date.now() + 100 * 86_400_000, 10, 1), []);
      // Late reports about a finished delivery change nothing.
      await backend.outbox.reschedule(d.id, Date.now(), 'late');
      await backend.outbox.markDelivered(d.id, Date.now());
      assert.equal(await backend.outbox.pending(), 0);
      assert.deepEqual(await backend.outbox.claimDue(Date.now() + 100 * 86_400_000, 10, 1), []);
    });

    it('hands concurrent claimers disjoint deliveries', async () => {
      for (let i = 0; i < 10; i++) {
        await createOk(backend.tasks, newTask({ callbackUrl: 'https://example.com/hook' }), String(i));
      }
      const now = Date.now() + 10;
      const batches = await Promise.all(
        Array.from({ length: 6 }, () => backend.outbox.claimDue(now, 3, 60_000)),
      );
      const ids = batches.flat().map((d) => d.id);
      assert.equal(ids.length, 10);
      assert.equal(new Set(ids).size, 10);
    });
  });
}
