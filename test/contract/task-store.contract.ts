/**
 * The TaskStore contract: every backend must pass it. `open` returns a fresh, empty backend for each
 * test; the store's creates and status changes are checked together with the job and the callback
 * delivery they write in the same transaction.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { StatusChange } from '../../src/storage/task-store.js';
import type { TaskRecord } from '../../src/tasks/model.js';
import { createOk, newTask, ROOMY, type TaskBackend } from './fixtures.js';

export function taskStoreContract(name: string, open: () => Promise<TaskBackend>): void {
  describe(`TaskStore contract: ${name}`, () => {
    let backend: TaskBackend;
    beforeEach(async () => {
      backend = await open();
    });
    afterEach(async () => {
      await backend.close();
    });

    const change = (c: Partial<StatusChange> & Pick<StatusChange, 'from' | 'status'>): StatusChange => ({
      at: Date.now(),
      callbackBody: null,
      ...c,
    });
    /** Every delivery due now, leased for a moment (enough for these tests). */
    const dueNow = () => backend.outbox.claimDue(Date.now() + 1, 100, 1);

    it("the backend's write check passes on a working database and changes no task", async () => {
      await backend.checkWritable();
      await backend.checkWritable();
      assert.deepEqual(await backend.tasks.countByStatus(), { submitted: 0, processing: 0, succeed: 0, failed: 0 });
    });

    describe('countByStatus', () => {
      it('counts the tasks of every account by status, every status present', async () => {
        assert.deepEqual(await backend.tasks.countByStatus(), { submitted: 0, processing: 0, succeed: 0, failed: 0 });
        const [a, b] = [newTask(), newTask({ accountId: 'acct_b' })];
        await createOk(backend.tasks, a);
        await createOk(backend.tasks, b);
        await createOk(backend.tasks, newTask());
        await backend.tasks.updateStatus(a.id, change({ from: ['submitted'], status: 'processing' }));
        await backend.tasks.updateStatus(b.id, change({ from: ['submitted'], status: 'failed', statusMsg: 'x' }));
        assert.deepEqual(await backend.tasks.countByStatus(), { submitted: 1, processing: 1, succeed: 0, failed: 1 });
      });
    });

    describe('create', () => {
      it('stores a submitted task that reads back field for field', async () => {
        const input = newTask({ externalTaskId: 'ext-1', n: 3, callbackUrl: 'https://example.com/hook' });
        const created = await createOk(backend.tasks, input);
        const expected: TaskRecord = {
          ...input,
          status: 'submitted',
          statusMsg: '',
          images: [],
          progress: 0,
          updatedAt: input.createdAt,
        };
        assert.deepEqual(created, expected);
        assert.deepEqual(await backend.tasks.getById(input.id), expected);
        assert.deepEqual(await backend.tasks.get('acct_a', input.id), expected);
        assert.deepEqual(await backend.tasks.getByExternalId('acct_a', 'ext-1'), expected);
      });

      it('keeps null params (no prompt, no callback) as null', async () => {
        const input = newTask();
        input.params.prompt = null;
        await createOk(backend.tasks, input);
        const stored = await backend.tasks.getById(input.id);
        assert.equal(stored?.params.prompt, null);
        assert.equal(stored?.params.callbackUrl, null);
        assert.equal(stored?.externalTaskId, null);
      });

      it('inserts the task, its job and its submitted callback together', async () => {
        const input = newTask({ callbackUrl: 'https://example.com/hook' });
        await createOk(backend.tasks, input, '{"task_status":"submitted"}');
        assert.equal(await backend.queue.queued(), 1);
        const job = await backend.queue.claim('w1', 60_000);
        assert.equal(job?.taskId, input.id);
        assert.equal(await backend.outbox.pending(), 1);
        const [delivery, ...rest] = await dueNow();
        assert.equal(rest.length, 0);
        assert.equal(delivery.taskId, input.id);
        assert.equal(delivery.accountId, 'acct_a');
        assert.equal(delivery.url, 'https://example.com/hook');
        assert.equal(delivery.body, '{"task_status":"submitted"}');
        assert.equal(delivery.attempts, 0);
        assert.ok(delivery.id.length > 0);
        assert.ok(Math.abs(delivery.createdAt - Date.now()) < 60_000);
      });

      it('records no callback when the body is null, or when the task has no callback URL', async () => {
        await createOk(backend.tasks, newTask({ callbackUrl: 'https://example.com/hook' }), null);
        await createOk(backend.tasks, newTask({ callbackUrl: null }), '{"ignored":true}');
        assert.equal(await backend.outbox.pending(), 0);
        assert.deepEqual(await dueNow(), []);
        assert.equal(await backend.queue.queued(), 2);
      });

      it('refuses an external_task_id the account already used, writing nothing', async () => {
        await createOk(backend.tasks, newTask({ externalTaskId: 'dup' }));
        const second = newTask({ externalTaskId: 'dup', callbackUrl: 'https://example.com/hook' });
        const result = await backend.tasks.create(second, ROOMY, '{}');
        assert.deepEqual(result, { ok: false, reason: 'duplicate_external_task_id' });
        assert.equal(await backend.tasks.getById(second.id), null);
        assert.equal(await backend.queue.queued(), 1);
        assert.equal(await backend.outbox.pending(), 0);
      });

      it('lets another account use the same external_task_id', async () => {
        const a = await createOk(backend.tasks, newTask({ externalTaskId: 'shared' }));
        const b = await createOk(backend.tasks, newTask({ accountId: 'acct_b', externalTaskId: 'shared' }));
        assert.equal((await backend.tasks.getByExternalId('acct_a', 'shared'))?.id, a.id);
        assert.equal((await backend.tasks.getByExternalId('acct_b', 'shared'))?.id, b.id);
      });

      it('refuses a task that would take the account past its slots (sum of n of active tasks)', async () => {
        const limits = { maxAccountSlots: 9, maxQueuedJobs: 1000 };
        assert.ok((await backend.tasks.create(newTask({ n: 4 }), limits, null)).ok);
        const processing = newTask({ n: 5 });
        assert.ok((await backend.tasks.create(processing, limits, null)).ok);
        await backend.tasks.updateStatus(processing.id, change({ from: ['submitted'], status: 'processing' }));

        const refused = newTask({ n: 1, callbackUrl: 'https://example.com/hook' });
        assert.deepEqual(await backend.tasks.create(refused, limits, '{}'), { ok: false, reason: 'account_slots_full' });
        assert.equal(await backend.tasks.getById(refused.id), null);
        assert.equal(await backend.outbox.pending(), 0);
        assert.equal(await backend.queue.queued(), 2);

        // Another account has its own slots.
        assert.ok((await backend.tasks.create(newTask({ accountId: 'acct_b', n: 9 }), limits, null)).ok);

        // A finished task gives its slots back.
        await backend.tasks.updateStatus(processing.id, change({ from: ['processing'], status: 'succeed' }));
        assert.ok((await backend.tasks.create(newTask({ n: 5 }), limits, null)).ok);
        assert.deepEqual(await backend.tasks.create(newTask({ n: 1 }), limits, null), {
          ok: false,
          reason: 'account_slots_full',
        });
      });

      it('refuses a task when the queue is full, over all accounts, writing nothing', async () => {
        const limits = { maxAccountSlots: 100, maxQueuedJobs: 2 };
        assert.ok((await backend.tasks.create(newTask(), limits, null)).ok);
        assert.ok((await backend.tasks.create(newTask({ accountId: 'acct_b' }), limits, null)).ok);
        const refused = newTask({ accountId: 'acct_c', callbackUrl: 'https://example.com/hook' });
        assert.deepEqual(await backend.tasks.create(refused, limits, '{}'), { ok: false, reason: 'queue_full' });
        assert.equal(await backend.tasks.getById(refused.id), null);
        assert.equal(await backend.outbox.pending(), 0);
        assert.equal(await backend.queue.queued(), 2);

        // A claimed job no longer waits, so there is room again.
        assert.ok(await backend.queue.claim('w1', 60_000));
        assert.ok((await backend.tasks.create(refused, limits, null)).ok);
      });

      it('admits concurrent creates only up to the slot limit', async () => {
        const limits = { maxAccountSlots: 5, maxQueuedJobs: 1000 };
        const results = await Promise.all(
          Array.from({ length: 12 }, () => backend.tasks.create(newTask({ n: 1 }), limits, null)),
        );
        assert.equal(results.filter((r) => r.ok).length, 5);
        assert.equal(await backend.queue.queued(), 5);
      });
    });

    describe('reads', () => {
      it('keeps accounts apart', async () => {
        const a = await createOk(backend.tasks, newTask({ externalTaskId: 'mine' }));
        assert.equal(await backend.tasks.get('acct_b', a.id), null);
        assert.equal(await backend.tasks.getByIdOrExternalId('acct_b', a.id), null);
        assert.equal(await backend.tasks.getByIdOrExternalId('acct_b', 'mine'), null);
        assert.equal(await backend.tasks.getByExternalId('acct_b', 'mine'), null);
        assert.deepEqual(await backend.tasks.list('acct_b', { pageNum: 1, pageSize: 30 }), []);
        assert.equal((await backend.tasks.getById(a.id))?.accountId, 'acct_a');
      });

      it('returns null for unknown ids', async () => {
        assert.equal(await backend.tasks.get('acct_a', 'nope'), null);
        assert.equal(await backend.tasks.getById('nope'), null);
        assert.equal(await backend.tasks.getByExternalId('acct_a', 'nope'), null);
        assert.equal(await backend.tasks.getByIdOrExternalId('acct_a', 'nope'), null);
      });

      it('looks an id up as a task id before an external id', async () => {
        const first = await createOk(backend.tasks, newTask());
        // Another task of the same account uses the first one's task id as its external id.
        const second = await createOk(backend.tasks, newTask({ externalTaskId: first.id }));
        assert.equal((await backend.tasks.getByIdOrExternalId('acct_a', first.id))?.id, first.id);
        const third = await createOk(backend.tasks, newTask({ externalTaskId: 'client-7' }));
        assert.equal((await backend.tasks.getByIdOrExternalId('acct_a', 'client-7'))?.id, third.id);
        assert.equal((await backend.tasks.getByIdOrExternalId('acct_a', second.id))?.id, second.id);
      });

      it('lists newest first, page by page; a short page is the last', async () => {
        const created: TaskRecord[] = [];
        for (let i = 0; i < 5; i++) created.push(await createOk(backend.tasks, newTask()));
        await createOk(backend.tasks, newTask({ accountId: 'acct_b' }));
        const ids = (tasks: TaskRecord[]) => tasks.map((t) => t.id);
        const newestFirst = ids(created).reverse();
        assert.deepEqual(ids(await backend.tasks.list('acct_a', { pageNum: 1, pageSize: 30 })), newestFirst);
        assert.deepEqual(ids(await backend.tasks.list('acct_a', { pageNum: 1, pageSize: 2 })), newestFirst.slice(0, 2));
        assert.deepEqual(ids(await backend.tasks.list('acct_a', { pageNum: 2, pageSize: 2 })), newestFirst.slice(2, 4));
        assert.deepEqual(ids(await backend.tasks.list('acct_a', { pageNum: 3, pageSize: 2 })), newestFirst.slice(4));
        assert.deepEqual(await backend.tasks.list('acct_a', { pageNum: 4, pageSize: 2 }), []);
      });

      it('orders tasks created in the same millisecond by id, descending, so pages are stable', async () => {
        const at = Date.now();
        for (const id of ['t-b', 't-c', 't-a']) await createOk(backend.tasks, newTask({ id, createdAt: at }));
        const page1 = await backend.tasks.list('acct_a', { pageNum: 1, pageSize: 2 });
        const page2 = await backend.tasks.list('acct_a', { pageNum: 2, pageSize: 2 });
        assert.deepEqual([...page1, ...page2].map((t) => t.id), ['t-c', 't-b', 't-a']);
      });
    });

    describe('setProgress', () => {
      it('raises the progress of a processing task only, never lowers it, and moves nothing else', async () => {
        const task = await createOk(backend.tasks, newTask({ callbackUrl: 'https://example.com/hook' }));
        await backend.tasks.setProgress(task.id, 10); // still submitted: ignored
        assert.equal((await backend.tasks.getById(task.id))?.progress, 0);
        const processing = (await backend.tasks.updateStatus(task.id, change({ from: ['submitted'], status: 'processing' })))!;
        await backend.tasks.setProgress(task.id, 40);
        await backend.tasks.setProgress(task.id, 25); // late, lower report: ignored
        const read = await backend.tasks.getById(task.id);
        assert.deepEqual(read, { ...processing, progress: 40 });
        assert.equal(await backend.outbox.pending(), 0);
        await backend.tasks.setProgress(task.id, 100);
        assert.equal((await backend.tasks.getById(task.id))?.progress, 100);
      });

      it('never touches a finished task', async () => {
        const task = await createOk(backend.tasks, newTask());
        await backend.tasks.updateStatus(task.id, change({ from: ['submitted'], status: 'processing' }));
        await backend.tasks.setProgress(task.id, 30);
        const failed = await backend.tasks.updateStatus(task.id, change({ from: ['processing'], status: 'failed', statusMsg: 'canceled' }));
        await backend.tasks.setProgress(task.id, 90);
        assert.deepEqual(await backend.tasks.getById(task.id), failed);
        assert.equal(failed?.progress, 30);
        await backend.tasks.setProgress('nope', 50); // unknown: nothing, no error
      });
    });

    describe('updateStatus', () => {
      it('applies a change when the task is in `from`, and records its callback with it', async () => {
        const task = await createOk(backend.tasks, newTask({ callbackUrl: 'https://example.com/hook' }), '"submitted"');
        const at = task.createdAt + 5000;
        const updated = await backend.tasks.updateStatus(
          task.id,
          change({ from: ['submitted'], status: 'processing', at, callbackBody: '"processing"' }),
        );
        assert.equal(updated?.status, 'processing');
        assert.equal(updated?.updatedAt, at);
        assert.equal(updated?.statusMsg, '');
        assert.deepEqual(await backend.tasks.getById(task.id), updated);
        const bodies = (await dueNow()).map((d) => d.body).sort();
        assert.deepEqual(bodies, ['"processing"', '"submitted"']);
      });

      it('changes nothing and records no callback when the task is not in `from`', async () => {
        const task = await createOk(backend.tasks, newTask({ callbackUrl: 'https://example.com/hook' }));
        const refused = await backend.tasks.updateStatus(
          task.id,
          change({ from: ['processing'], status: 'succeed', callbackBody: '"succeed"' }),
        );
        assert.equal(refused, null);
        assert.deepEqual(await backend.tasks.getById(task.id), task);
        assert.equal(await backend.outbox.pending(), 0);
        assert.equal(await backend.tasks.updateStatus('nope', change({ from: ['submitted'], status: 'failed' })), null);
      });

      it('gives each change its own delivery id, and none when the body is null', async () => {
        const task = await createOk(backend.tasks, newTask({ callbackUrl: 'https://example.com/hook' }), '1');
        await backend.tasks.updateStatus(task.id, change({ from: ['submitted'], status: 'processing', callbackBody: null }));
        await backend.tasks.updateStatus(task.id, change({ from: ['processing'], status: 'succeed', callbackBody: '3' }));
        const deliveries = await dueNow();
        assert.deepEqual(deliveries.map((d) => d.body).sort(), ['1', '3']);
        assert.equal(new Set(deliveries.map((d) => d.id)).size, 2);
      });

      it('stores images and the failure message; absent images stay, absent message is empty', async () => {
        const task = await createOk(backend.tasks, newTask({ n: 2 }));
        await backend.tasks.updateStatus(task.id, change({ from: ['submitted'], status: 'processing' }));
        const images = [
          { index: 0, key: `results/${task.id}/0.png`, watermarkKey: null },
          { index: 1, key: `results/${task.id}/1.png`, watermarkKey: `results/${task.id}/1-wm.png` },
        ];
        const done = await backend.tasks.updateStatus(
          task.id,
          change({ from: ['processing'], status: 'succeed', images }),
        );
        assert.deepEqual(done?.images, images);
        // A later change without images keeps them (an illustration of the rule, not a real transition).
        const again = await backend.tasks.updateStatus(
          task.id,
          change({ from: ['succeed'], status: 'failed', statusMsg: 'engine crashed' }),
        );
        assert.deepEqual(again?.images, images);
        assert.equal(again?.statusMsg, 'engine crashed');
        const cleared = await backend.tasks.updateStatus(task.id, change({ from: ['failed'], status: 'succeed' }));
        assert.equal(cleared?.statusMsg, '');
      });

      it('lets only one of two racing identical changes through', async () => {
        const task = await createOk(backend.tasks, newTask({ callbackUrl: 'https://example.com/hook' }));
        const c = change({ from: ['submitted'], status: 'processing', callbackBody: '"processing"' });
        const results = await Promise.all([backend.tasks.updateStatus(task.id, c), backend.tasks.updateStatus(task.id, c)]);
        assert.equal(results.filter((r) => r !== null).length, 1);
        assert.equal(await backend.outbox.pending(), 1);
      });
    });
  });
}
