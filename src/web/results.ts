/**
 * A finished task's pictures: a gallery (each with its download, and the watermarked copy when one was
 * made), a before/after comparison with a slider when the original is known (tasks made in this tab),
 * and "use as the new input" to expand a result again.
 */
import { expansionGeometry, type ExpansionRatios } from '../contract/geometry.js';
import type { Task, TaskImage } from '../contract/schemas.js';
import { el } from './dom.js';

export interface ResultsElements {
  section: HTMLElement;
  gallery: HTMLElement;
  compare: HTMLElement;
  compareView: HTMLElement;
  after: HTMLImageElement;
  before: HTMLElement;
  original: HTMLImageElement;
  range: HTMLInputElement;
}

/** The input of a task, when this tab made it. */
export interface KnownInput {
  url: string;
  width: number;
  height: number;
  ratios: ExpansionRatios;
}

export class ResultsView {
  private input: KnownInput | null = null;

  constructor(
    private readonly els: ResultsElements,
    private readonly onUseAsInput: (image: TaskImage, task: Task) => void,
  ) {
    els.range.addEventListener('input', () => this.reveal());
  }

  clear(): void {
    this.els.section.hidden = true;
    this.els.gallery.replaceChildren();
    this.els.compare.hidden = true;
  }

  show(task: Task, input: KnownInput | null): void {
    this.input = input;
    const images = task.task_result.images;
    this.els.section.hidden = images.length === 0;
    this.els.gallery.replaceChildren(...images.map((image) => this.item(task, image)));
    if (images.length > 0 && input) this.compareWith(images[0]);
    else this.els.compare.hidden = true;
  }

  private item(task: Task, image: TaskImage): HTMLElement {
    const name = `outpaint-${task.task_id}-${image.index}`;
    const picture = el('img', { src: image.url, alt: `Result ${image.index + 1}`, loading: 'lazy', decoding: 'async' });
    const size = el('span', { className: 'size' }, 'loading…');
    picture.addEventListener('load', () => (size.textContent = `${picture.naturalWidth} × ${picture.naturalHeight} px`));
    picture.addEventListener('error', () => (size.textContent = 'could not be loaded (the link may have expired)'));
    const actions = el(
      'div',
      { className: 'actions' },
      el('a', { href: image.url, download: `${name}.png`, className: 'button secondary' }, 'Download'),
    );
    if (image.watermark_url) {
      actions.append(el('a', { href: image.watermark_url, download: `${name}-watermarked.png`, className: 'button secondary' }, 'Watermarked'));
    }
    if (this.input) {
      const compare = el('button', { type: 'button', className: 'secondary' }, 'Compare');
      compare.addEventListener('click', () => this.compareWith(image));
      actions.append(compare);
    }
    const reuse = el('button', { type: 'button', className: 'secondary', title: 'Use this result as the new input' }, 'Use as input');
    reuse.addEventListener('click', () => this.onUseAsInput(image, task));
    actions.append(reuse);
    return el(
      'li',
      { className: 'result', attrs: { 'data-index': String(image.index) } },
      el('figure', {}, picture, el('figcaption', {}, `Image ${image.index + 1} · `, size)),
      actions,
    );
  }

  /** The original, placed where it sits in the result, over the result; the slider wipes between them. */
  private compareWith(image: TaskImage): void {
    const input = this.input;
    if (!input) return;
    const geometry = expansionGeometry(input.width, input.height, input.ratios);
    const { after, original, compare, compareView } = this.els;
    after.src = image.url;
    compareView.style.aspectRatio = `${geometry.width} / ${geometry.height}`;
    original.src = input.url;
    original.style.left = `${(100 * geometry.x) / geometry.width}%`;
    original.style.top = `${(100 * geometry.y) / geometry.height}%`;
    original.style.width = `${(100 * input.width) / geometry.width}%`;
    original.style.height = `${(100 * input.height) / geometry.height}%`;
    compare.hidden = false;
    compare.setAttribute('data-index', String(image.index));
    this.reveal();
  }

  private reveal(): void {
    const shown = Number(this.els.range.value);
    this.els.before.style.clipPath = `inset(0 ${100 - shown}% 0 0)`;
    this.els.range.setAttribute('aria-valuetext', `${shown}% before, ${100 - shown}% after`);
  }
}
