/**
 * The Outpaint playground: sign in, drop a picture, drag its frame, submit, watch it work, keep the
 * results. This module wires the parts (each in its own module) to the page's elements; everything the
 * API defines (shapes, limits, rules, paths) comes from src/contract.
 */
import { checkN, checkPrompt, checkRatios, checkSeed, LIMITS } from '../contract/rules.js';
import type { ExpandBody, Task, TaskImage } from '../contract/schemas.js';
import { fetchImage, OutpaintClient } from './client.js';
import { loadCredentials, saveCredentials, TokenSource, type Credentials } from './credentials.js';
import { byId, el, showError } from './dom.js';
import { ErrorPlaces } from './error-places.js';
import { followTask, isFinished } from './follow.js';
import { FrameControls, type FrameControlsElements } from './frame-controls.js';
import { FrameEditor } from './frame-editor.js';
import { SIDES } from './frame-math.js';
import { HistoryView } from './history.js';
import { canSignTokens } from './jwt.js';
import { loadPicture, toBase64, type Picture } from './picture.js';
import { ResultsView, type KnownInput } from './results.js';

// ------------------------------------------------------------------------------------------ the parts

let client: OutpaintClient | null = null;
let picture: Picture | null = null;
let submitting = false;
let stopFollowing: (() => void) | null = null;
/** The inputs of tasks made in this tab, for the before/after comparison. */
const knownInputs = new Map<string, KnownInput>();

const errors = new ErrorPlaces({
  image: byId('image-error'),
  'expansion ratios': byId('ratios-error'),
  'up_expansion_ratio': byId('ratios-error'),
  'down_expansion_ratio': byId('ratios-error'),
  'left_expansion_ratio': byId('ratios-error'),
  'right_expansion_ratio': byId('ratios-error'),
  n: byId('n-error'),
  seed: byId('seed-error'),
  prompt: byId('prompt-error'),
  'watermark_info*': byId('watermark-error'),
});

const editor = new FrameEditor(
  {
    stage: byId('stage'),
    frame: byId('frame'),
    original: byId<HTMLImageElement>('original'),
    handles: [...document.querySelectorAll<HTMLElement>('.handle')],
  },
  (ratios, limited) => {
    controls.show(ratios, limited ? `The ${LIMITS.maxArea}× area limit (or ${LIMITS.maxRatio}× a side) stops the frame here.` : '');
    updateSubmit();
  },
);

const controls = new FrameControls(
  {
    fields: Object.fromEntries(SIDES.map((s) => [s, byId<HTMLInputElement>(`ratio-${s}`)])) as FrameControlsElements['fields'],
    presets: [...document.querySelectorAll<HTMLButtonElement>('[data-preset]')],
    summary: byId('output-size'),
    note: byId('frame-note'),
    error: byId('ratios-error'),
  },
  (ratios) => {
    if (ratios) editor.setRatios(ratios);
    updateSubmit();
  },
);

const results = new ResultsView(
  {
    section: byId('results'),
    gallery: byId('gallery'),
    compare: byId('compare'),
    compareView: byId('compare-view'),
    after: byId<HTMLImageElement>('compare-after'),
    before: byId('compare-before'),
    original: byId<HTMLImageElement>('compare-original'),
    range: byId<HTMLInputElement>('compare-range'),
  },
  (image, task) => void useAsInput(image, task),
);

const history = new HistoryView(
  {
    list: byId('history-list'),
    page: byId('history-page'),
    prev: byId<HTMLButtonElement>('history-prev'),
    next: byId<HTMLButtonElement>('history-next'),
    refresh: byId<HTMLButtonElement>('history-refresh'),
    error: byId('history-error'),
  },
  {
    open: (task) => showTask(task),
    cancel: async (task) => {
      if (!client) return;
      const canceled = await client.cancel(task.task_id);
      if (shownTaskId === task.task_id) renderTask(canceled);
    },
  },
);

// ------------------------------------------------------------------------------------------ signing in

const signInForm = byId<HTMLFormElement>('sign-in-form');
const accessKeyField = byId('access-key-field');
const accessKeyInput = byId<HTMLInputElement>('access-key');
const secretInput = byId<HTMLInputElement>('secret-key');

function mode(): Credentials['kind'] {
  return (signInForm.elements.namedItem('mode') as RadioNodeList).value as Credentials['kind'];
}

function showMode(): void {
  const keys = mode() === 'keys';
  accessKeyField.hidden = !keys;
  byId('secret-label').textContent = keys ? 'Secret key' : 'API key';
  const note = byId('sign-in-note');
  note.hidden = !(keys && !canSignTokens());
  note.textContent = 'This page is not on https or localhost, so the browser offers no Web Crypto to sign tokens: the secret key will be sent as an API key.';
}

for (const radio of signInForm.querySelectorAll('input[name=mode]')) radio.addEventListener('change', showMode);

signInForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const secret = secretInput.value.trim();
  const accessKey = accessKeyInput.value.trim();
  const slot = byId('sign-in-error');
  if (mode() === 'keys' && !accessKey) return showError(slot, 'Enter the access key (or sign in with an API key).');
  if (!secret) return showError(slot, `Enter the ${mode() === 'keys' ? 'secret key' : 'API key'}.`);
  const credentials: Credentials = mode() === 'keys' ? { kind: 'keys', accessKey, secretKey: secret } : { kind: 'api-key', apiKey: secret };
  void signIn(credentials, true);
});

async function signIn(credentials: Credentials, typed: boolean): Promise<void> {
  const tokens = new TokenSource(credentials);
  const candidate = new OutpaintClient(tokens);
  const button = byId<HTMLButtonElement>('sign-in-button');
  button.disabled = true;
  try {
    // The cheapest authenticated call: it says at once whether the keys work.
    await candidate.list(1, 1);
  } catch (err) {
    showError(byId('sign-in-error'), typed ? (err as Error).message : `Signed out: ${(err as Error).message}`);
    saveCredentials(null);
    return;
  } finally {
    button.disabled = false;
  }
  saveCredentials(credentials);
  client = candidate;
  secretInput.value = '';
  showError(byId('sign-in-error'), null);
  byId('sign-in').hidden = true;
  byId('workspace').hidden = false;
  byId('signed-in').hidden = false;
  byId('signed-in-as').textContent = `Signed in ${tokens.describe()}`;
  history.use(client);
  await history.load(1);
}

byId('sign-out').addEventListener('click', () => {
  stopFollowing?.();
  saveCredentials(null);
  client = null;
  history.use(null);
  byId('sign-in').hidden = false;
  byId('workspace').hidden = true;
  byId('signed-in').hidden = true;
  accessKeyInput.focus();
});

// ------------------------------------------------------------------------------------------ the picture

const fileInput = byId<HTMLInputElement>('file-input');
const dropZone = byId('drop-zone');

async function takePicture(blob: Blob, name: string): Promise<void> {
  showError(byId('image-error'), null);
  let next: Picture;
  try {
    next = await loadPicture(blob, name);
  } catch (err) {
    errors.show(err, byId('image-error'));
    return;
  }
  if (picture) URL.revokeObjectURL(picture.url);
  picture = next;
  for (const id of ['stage', 'stage-hint', 'frame-controls']) byId(id).hidden = false;
  dropZone.classList.add('has-picture');
  editor.setPicture(next.url, next.width, next.height);
  controls.setPicture(next.width, next.height);
  byId('drop-title').textContent = `${name} · ${next.width} × ${next.height} px`;
  byId('drop-how').replaceChildren('Drop, paste or ', el('span', { className: 'link' }, 'pick'), ' another to replace it');
  updateSubmit();
}

fileInput.addEventListener('change', () => {
  const file = fileInput.files?.[0];
  if (file) void takePicture(file, file.name);
  fileInput.value = '';
});
dropZone.addEventListener('dragover', (e) => {
  e.preventDefault();
  dropZone.classList.add('over');
});
dropZone.addEventListener('dragleave', () => dropZone.classList.remove('over'));
dropZone.addEventListener('drop', (e) => {
  e.preventDefault();
  dropZone.classList.remove('over');
  const file = e.dataTransfer?.files[0];
  if (file) void takePicture(file, file.name);
});
document.addEventListener('paste', (e) => {
  if (byId('workspace').hidden) return;
  const file = [...(e.clipboardData?.files ?? [])][0];
  if (!file) return;
  e.preventDefault();
  void takePicture(file, file.name || 'pasted picture');
});

async function useAsInput(image: TaskImage, task: Task): Promise<void> {
  try {
    const blob = await fetchImage(image.url);
    await takePicture(blob, `result ${image.index + 1} of ${task.task_id.slice(0, 6)}`);
    byId('picture-title').scrollIntoView({ behavior: 'smooth' });
  } catch (err) {
    errors.show(err, byId('image-error'));
  }
}

// ------------------------------------------------------------------------------------------ submitting

const submitButton = byId<HTMLButtonElement>('submit');
const promptInput = byId<HTMLTextAreaElement>('prompt');

function updateSubmit(): void {
  submitButton.disabled = submitting || !picture || !controls.isValid;
}

promptInput.addEventListener('input', () => {
  const chars = [...promptInput.value].length;
  byId('prompt-count').textContent = `${chars} / ${LIMITS.maxPromptChars}`;
});

/** The request, judged by the contract's rules first: a mistake is shown before anything is sent. */
function buildRequest(p: Picture): ExpandBody {
  const ratios = checkRatios(editor.ratios);
  const nText = byId<HTMLInputElement>('n').value.trim();
  const seedText = byId<HTMLInputElement>('seed').value.trim();
  const body: ExpandBody = {
    image: toBase64(p.bytes),
    up_expansion_ratio: ratios.up,
    down_expansion_ratio: ratios.down,
    left_expansion_ratio: ratios.left,
    right_expansion_ratio: ratios.right,
    n: checkN(nText === '' ? undefined : Number(nText)),
    watermark_info: { enabled: byId<HTMLInputElement>('watermark').checked },
  };
  const seed = checkSeed(seedText === '' ? undefined : Number(seedText));
  if (seed !== null) body.seed = seed;
  const prompt = checkPrompt(promptInput.value === '' ? undefined : promptInput.value);
  if (prompt !== null) body.prompt = prompt;
  return body;
}

byId<HTMLFormElement>('expand-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void submit();
});

async function submit(): Promise<void> {
  if (!client || !picture || submitting) return;
  errors.clear();
  showError(byId('submit-error'), null);
  let body: ExpandBody;
  try {
    body = buildRequest(picture);
  } catch (err) {
    errors.show(err, byId('submit-error'));
    return;
  }
  submitting = true;
  updateSubmit();
  submitButton.textContent = 'Sending…';
  try {
    const created = await client.create(body);
    knownInputs.set(created.task_id, { url: picture.url, width: picture.width, height: picture.height, ratios: { ...editor.ratios } });
    showTask({
      ...created,
      task_status_msg: '',
      final_unit_deduction: '0',
      task_progress: 0,
      watermark_info: { enabled: body.watermark_info?.enabled ?? false },
      task_result: { images: [] },
    });
    void history.load(1);
  } catch (err) {
    errors.show(err, byId('submit-error'));
  } finally {
    submitting = false;
    submitButton.textContent = 'Expand';
    updateSubmit();
  }
}

// ------------------------------------------------------------------------------------------ the task

let shownTaskId: string | null = null;
const progress = byId('progress');
const cancelButton = byId<HTMLButtonElement>('task-cancel');

function showTask(task: Task): void {
  stopFollowing?.();
  stopFollowing = null;
  shownTaskId = task.task_id;
  results.clear();
  byId('task').hidden = false;
  showError(byId('task-error'), null);
  renderTask(task);
  if (!client) return;
  if (isFinished(task)) {
    // A task from the list: fetch it whole (the list's copy may be older).
    client.get(task.task_id).then(renderTask, (err: Error) => showError(byId('task-error'), err.message));
    return;
  }
  stopFollowing = followTask(client, task.task_id, {
    onTask: (t) => {
      renderTask(t);
      // The list shows the new state (and the thumbnail) once the task is done.
      if (isFinished(t)) void history.load();
    },
    onLost: (failure) => showError(byId('task-error'), failure.message),
  });
}

function renderTask(task: Task): void {
  if (task.task_id !== shownTaskId) return;
  byId('task-title').textContent = `Task ${task.task_id}`;
  const percent = task.task_status === 'succeed' ? 100 : task.task_progress;
  progress.setAttribute('aria-valuenow', String(percent));
  progress.dataset.status = task.task_status;
  byId('progress-fill').style.width = `${percent}%`;
  const words: Record<Task['task_status'], string> = {
    submitted: 'Waiting for a free engine…',
    processing: `Working: ${percent}%`,
    succeed: `Done: ${task.task_result.images.length} image${task.task_result.images.length === 1 ? '' : 's'}`,
    failed: task.task_status_msg === 'canceled' ? 'Cancelled' : 'Failed',
  };
  byId('task-status').textContent = words[task.task_status];
  cancelButton.hidden = isFinished(task);
  if (task.task_status === 'failed' && task.task_status_msg !== 'canceled') showError(byId('task-error'), task.task_status_msg);
  if (task.task_status === 'succeed') results.show(task, knownInputs.get(task.task_id) ?? null);
}

cancelButton.addEventListener('click', () => {
  if (!client || !shownTaskId) return;
  cancelButton.disabled = true;
  client.cancel(shownTaskId).then(
    (task) => {
      renderTask(task);
      void history.load();
    },
    (err: Error) => showError(byId('task-error'), err.message),
  ).finally(() => (cancelButton.disabled = false));
});

// ------------------------------------------------------------------------------------------ start

showMode();
const remembered = loadCredentials();
if (remembered) void signIn(remembered, false);
else accessKeyInput.focus();
