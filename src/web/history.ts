/**
 * The account's tasks from the list endpoint, newest first, a page at a time (a short page is the last):
 * each with its status and progress, a thumbnail once it succeeded, "Open" to show it, and "Cancel" while
 * it is submitted or processing.
 */
import type { Task } from '../contract/schemas.js';
import type { OutpaintClient } from './client.js';
import { el, showError } from './dom.js';
import { isFinished } from './follow.js';

const PAGE_SIZE = 10;

export interface HistoryElements {
  list: HTMLElement;
  page: HTMLElement;
  prev: HTMLButtonElement;
  next: HTMLButtonElement;
  refresh: HTMLButtonElement;
  error: HTMLElement;
}

export interface HistoryActions {
  open(task: Task): void;
  cancel(task: Task): Promise<void>;
}

export class HistoryView {
  private pageNum = 1;
  private client: OutpaintClient | null = null;

  constructor(
    private readonly els: HistoryElements,
    private readonly actions: HistoryActions,
  ) {
    els.prev.addEventListener('click', () => void this.load(this.pageNum - 1));
    els.next.addEventListener('click', () => void this.load(this.pageNum + 1));
    els.refresh.addEventListener('click', () => void this.load(this.pageNum));
  }

  use(client: OutpaintClient | null): void {
    this.client = client;
    this.pageNum = 1;
    this.els.list.replaceChildren();
  }

  async load(pageNum = this.pageNum): Promise<void> {
    if (!this.client) return;
    try {
      const tasks = await this.client.list(pageNum, PAGE_SIZE);
      if (tasks.length === 0 && pageNum > 1) return this.load(pageNum - 1);
      this.pageNum = pageNum;
      showError(this.els.error, null);
      this.els.list.replaceChildren(...tasks.map((t) => this.row(t)));
      if (tasks.length === 0) this.els.list.append(el('li', { className: 'empty' }, 'No tasks yet.'));
      this.els.page.textContent = `page ${pageNum}`;
      this.els.prev.disabled = pageNum === 1;
      this.els.next.disabled = tasks.length < PAGE_SIZE;
    } catch (err) {
      showError(this.els.error, (err as Error).message);
    }
  }

  private row(task: Task): HTMLElement {
    const when = new Date(task.created_at).toLocaleString();
    const status = task.task_status === 'failed' && task.task_status_msg ? `failed: ${task.task_status_msg}` : task.task_status;
    const progress = task.task_status === 'processing' ? ` · ${task.task_progress}%` : '';
    const images = task.task_result.images;
    const thumb = images.length > 0 ? el('img', { src: images[0].url, alt: '', loading: 'lazy', className: 'thumb' }) : el('span', { className: 'thumb none' });
    const open = el('button', { type: 'button', className: 'secondary' }, 'Open');
    open.addEventListener('click', () => this.actions.open(task));
    const buttons = el('div', { className: 'actions' }, open);
    if (!isFinished(task)) {
      const cancel = el('button', { type: 'button', className: 'secondary danger' }, 'Cancel');
      cancel.addEventListener('click', () => {
        cancel.disabled = true;
        this.actions.cancel(task).then(
          () => this.load(),
          (err: Error) => {
            cancel.disabled = false;
            showError(this.els.error, err.message);
          },
        );
      });
      buttons.append(cancel);
    }
    return el(
      'li',
      { className: `task-row status-${task.task_status}`, attrs: { 'data-task-id': task.task_id } },
      thumb,
      el(
        'div',
        { className: 'task-info' },
        el('span', { className: 'task-status' }, status + progress),
        el('span', { className: 'task-meta' }, `${when} · ${images.length} image${images.length === 1 ? '' : 's'}`),
        el('code', { className: 'task-id' }, task.task_id),
      ),
      buttons,
    );
  }
}
