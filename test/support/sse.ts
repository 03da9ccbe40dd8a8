/**
 * A Server-Sent Events client for tests, over fetch: it reads the stream as a browser's EventSource
 * does (fields, blank-line dispatch, comments) and keeps everything it saw, comments included.
 */

export interface SseEvent {
  event: string;
  id: string;
  data: string;
}

export interface SseStream {
  status: number;
  headers: Headers;
  /** The body when the answer was not a stream (an error envelope). */
  json: any;
  /** Events in order of arrival. */
  events: SseEvent[];
  /** Comment lines (without the leading colon). */
  comments: string[];
  /** Resolves with the next event (null when the stream ended first). */
  next(timeoutMs?: number): Promise<SseEvent | null>;
  /** Resolves when the server ended the stream. */
  ended: Promise<void>;
  close(): void;
}

export async function openEvents(url: string, opts: { token?: string; lastEventId?: string } = {}): Promise<SseStream> {
  const abort = new AbortController();
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.lastEventId) headers['last-event-id'] = opts.lastEventId;
  const res = await fetch(url, { headers, signal: abort.signal });
  const stream: SseStream = {
    status: res.status,
    headers: res.headers,
    json: null,
    events: [],
    comments: [],
    next: () => Promise.resolve(null),
    ended: Promise.resolve(),
    close: () => abort.abort(),
  };
  if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    stream.json = await res.json();
    return stream;
  }
  let delivered = 0;
  let finished = false;
  const waiters: (() => void)[] = [];
  const notify = () => waiters.splice(0).forEach((w) => w());
  stream.next = (timeoutMs = 30_000) =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (delivered < stream.events.length) {
          resolve(stream.events[delivered++]);
          return true;
        }
        if (finished) {
          resolve(null);
          return true;
        }
        return false;
      };
      if (check()) return;
      const timer = setTimeout(() => reject(new Error(`no event within ${timeoutMs} ms`)), timeoutMs);
      const wait = () => {
        if (check()) clearTimeout(timer);
        else waiters.push(wait);
      };
      waiters.push(wait);
    });
  stream.ended = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    let current: SseEvent = { event: 'message', id: '', data: '' };
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).replace(/\r$/, '');
          buffer = buffer.slice(nl + 1);
          if (line === '') {
            if (current.data !== '' || current.id !== '') stream.events.push(current);
            current = { event: 'message', id: '', data: '' };
            notify();
          } else if (line.startsWith(':')) {
            stream.comments.push(line.slice(1).trim());
          } else {
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') current.event = value;
            else if (field === 'id') current.id = value;
            else if (field === 'data') current.data = current.data ? `${current.data}\n${value}` : value;
          }
        }
      }
    } catch (err) {
      if ((err as Error).name !== 'AbortError') throw err;
    } finally {
      finished = true;
      notify();
    }
  })();
  return stream;
}
