/**
 * The JobQueue contract, run against a backend whose TaskStore enqueues the jobs (jobs belong to tasks).
 * Leases are real time: short ones (tens of ms) keep the suite fast.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createOk, newTask, sleep, type TaskBackend } from './fixtures.js';

export function jobQueueContract(name: string, open: () => Promise<TaskBackend>): void {
  describe(`JobQueue contract: ${name}`, () => {
    let backend: TaskBackend;
    beforeEach(async () => {
      backend = await open();
    });
    afterEach(async () => {
      await backend.close();
    });

    const addTasks = async (count: number): Promise<string[]> => {
      const ids: string[] = [];
      for (let i = 0; i < count; i++) ids.push((await createOk(backend.tasks, newTask())).id);
      return ids;
    };

    it('has nothing to claim when empty', async () => {
      assert.equal(await backend.queue.queued(), 0);
      assert.equal(await backend.queue.claim('w1', 60_000), null);
    });

    it('hands out the oldest job first and counts the claim', async () => {
      const [a, b] = await addTasks(2);
      assert.equal(await backend.queue.queued(), 2);
      const first = await backend.queue.claim('w1', 60_000);
      assert.equal(first?.taskId, a);
      assert.equal(first?.attempt, 1);
      assert.equal(await backend.queue.queued(), 1);
      const second = await backend.queue.claim('w2', 60_000);
      assert.equal(second?.taskId, b);
      assert.notEqual(second?.id, first?.id);
      assert.equal(await backend.queue.claim('w3', 60_000), null);
      assert.equal(await backend.queue.queued(), 0);
    });

    it('removes a completed job for good', async () => {
      await addTasks(1);
      const job = (await backend.queue.claim('w1', 20))!;
      await backend.queue.complete(job.id, 'w1');
      await sleep(40); // past the lease: a completed job must not come back
      assert.equal(await backend.queue.claim('w2', 60_000), null);
      assert.equal(await backend.queue.queued(), 0);
      assert.equal(await backend.queue.heartbeat(job.id, 'w1', 60_000), false);
    });

    it("re-claims a job whose lease ran out, and the first worker's calls then do nothing", async () => {
      const [taskId] = await addTasks(1);
      const first = (await backend.queue.claim('w1', 150))!;
      assert.equal(await backend.queue.claim('w2', 150), null);
      assert.equal(await backend.queue.queued(), 0);
      await sleep(200);
      assert.equal(await backend.queue.queued(), 1);
      const second = await backend.queue.claim('w2', 60_000);
      assert.equal(second?.id, first.id);
      assert.equal(second?.taskId, taskId);
      assert.equal(second?.attempt, 2);

      assert.equal(await backend.queue.heartbeat(first.id, 'w1', 60_000), false);
      await backend.queue.complete(first.id, 'w1');
      await backend.queue.release(first.id, 'w1');
      // Still w2's job: not completed, not handed back.
      assert.equal(await backend.queue.claim('w3', 60_000), null);
      assert.equal(await backend.queue.heartbeat(second!.id, 'w2', 60_000), true);
    });

    it('keeps a job while its worker heartbeats', async () => {
      await addTasks(1);
      // Five heartbeats over 250 ms keep a 150 ms lease alive well past its first expiry.
      const job = (await backend.queue.claim('w1', 150))!;
      for (let i = 0; i < 5; i++) {
        await sleep(50);
        assert.equal(await backend.queue.heartbeat(job.id, 'w1', 150), true);
        assert.equal(await backend.queue.claim('w2', 150), null);
      }
      assert.equal(await backend.queue.heartbeat(job.id, 'w2', 150), false);
    });

    it('takes a released job back at once without counting the attempt', async () => {
      await addTasks(1);
      const job = (await backend.queue.claim('w1', 60_000))!;
      await backend.queue.release(job.id, 'w2'); // not w2's: nothing happens
      assert.equal(await backend.queue.claim('w2', 60_000), null);
      await backend.queue.release(job.id, 'w1');
      assert.equal(await backend.queue.queued(), 1);
      const again = await backend.queue.claim('w2', 60_000);
      assert.equal(again?.id, job.id);
      assert.equal(again?.attempt, 1);
    });

    it('enqueues at most one unfinished job per task', async () => {
      const [taskId] = await addTasks(1);
      await backend.queue.enqueue(taskId); // already queued by create
      assert.equal(await backend.queue.queued(), 1);
      const job = (await backend.queue.claim('w1', 60_000))!;
      await backend.queue.enqueue(taskId); // running
      assert.equal(await backend.queue.claim('w2', 60_000), null);
      await backend.queue.complete(job.id, 'w1');
      // Recovery: a task whose job finished without finishing the task gets a new one.
      await backend.queue.enqueue(taskId);
      await backend.queue.enqueue(taskId);
      assert.equal(await backend.queue.queued(), 1);
      const fresh = await backend.queue.claim('w2', 60_000);
      assert.equal(fresh?.taskId, taskId);
      assert.equal(fresh?.attempt, 1);
    });

    it('never hands one job to two concurrent claimers', async () => {
      await addTasks(10);
      const claims = await Promise.all(
        Array.from({ length: 30 }, (_, i) => backend.queue.claim(`w${i}`, 60_000)),
      );
      const got = claims.filter((c) => c !== null);
      assert.equal(got.length, 10);
      assert.equal(new Set(got.map((c) => c.id)).size, 10);
      assert.equal(new Set(got.map((c) => c.taskId)).size, 10);
      assert.equal(await backend.queue.queued(), 0);
    });
  });
}
