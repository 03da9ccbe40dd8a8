/**
 * The JobQueue contract, run against a backend whose TaskStore enqueues the jobs (jobs belong to tasks).
 * Leases are real time: short ones (tens of ms) keep the suite fast.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { createOk, newTask, sleep, type TaskBackend } from './fixtures.js';

const OPEN_STORAGE = new URL('../../src/storage/open.js', import.meta.url).href;

// Each thread opens the storage itself (its own connection, as another process would), claims and
// completes jobs until none is left, then reports the job ids it got.
const CLAIMING_THREAD = `
  const { parentPort, workerData } = require('node:worker_threads');
  import(workerData.openStorage).then(async ({ openStorage }) => {
    const storage = await openStorage(workerData.config);
    const got = [];
    for (;;) {
      const job = await storage.queue.claim(workerData.name, 60000);
      if (!job) break;
      got.push(job.id);
      await storage.queue.complete(job.id, workerData.name);
    }
    await storage.close();
    parentPort.postMessage(got);
  });
`;

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

    it('tells how long the oldest claimable job has waited, on the database clock', async () => {
      assert.equal(await backend.queue.oldestWaitingMs(), null, 'none when empty');
      const [a] = await addTasks(1);
      await sleep(60);
      await addTasks(1);
      const age = (await backend.queue.oldestWaitingMs())!;
      assert.ok(age >= 50 && age < 10_000, `the first job's age: ${age} ms`);
      // Claimed: the second job (younger) is now the oldest waiting one.
      const job = (await backend.queue.claim('w1', 60_000))!;
      assert.equal(job.taskId, a);
      assert.ok((await backend.queue.oldestWaitingMs())! < age, 'the younger job is the oldest waiting now');
      await backend.queue.claim('w2', 60_000);
      assert.equal(await backend.queue.oldestWaitingMs(), null, 'running jobs (leased) are not waiting');
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

    it("ends a worker's hold on a job it released: its heartbeat and complete then do nothing", async () => {
      await addTasks(1);
      const job = (await backend.queue.claim('w1', 60_000))!;
      await backend.queue.release(job.id, 'w1');
      assert.equal(await backend.queue.heartbeat(job.id, 'w1', 60_000), false);
      await backend.queue.complete(job.id, 'w1');
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

    it('hands every job to exactly one claimer across threads with their own connections', async () => {
      const ids = await addTasks(200);
      const runs = Array.from({ length: 4 }, (_, i) => {
        const worker = new Worker(CLAIMING_THREAD, {
          eval: true,
          workerData: { openStorage: OPEN_STORAGE, config: backend.storageConfig, name: `thread-${i}` },
        });
        return new Promise<string[]>((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        });
      });
      const claimed = (await Promise.all(runs)).flat();
      assert.equal(claimed.length, ids.length);
      assert.equal(new Set(claimed).size, ids.length);
      assert.equal(await backend.queue.queued(), 0);
      assert.equal(await backend.queue.claim('late', 1000), null);
    });
  });
}
