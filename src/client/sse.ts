/**
 * A text/event-stream parser over a fetch body, as the HTML standard's EventSource reads one: lines end
 * in LF, CR or CRLF; `event`, `data` (joined by LF), `id`, `retry` fields; comments ignored; an event is
 * dispatched at a blank line when it has data.
 */

export interface ServerSentEvent {
  event: string;
  data: string;
  /** The last id seen on the stream so far (what to send back as Last-Event-ID). */
  id: string;
  /** A `retry:` the server asked for (ms), if any so far. */
  retry?: number;
}

export async function* parseEventStream(body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<ServerSentEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const onAbort = () => void reader.cancel(signal?.reason).catch(() => {});
  signal?.addEventListener('abort', onAbort, { once: true });
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let lastId = '';
  let retry: number | undefined;
  // A CR at the end of a chunk may be half of a CRLF: it is judged with the next chunk.
  const takeLines = function* (final: boolean): Generator<string> {
    for (;;) {
      const m = /\r\n|\r|\n/.exec(buffer);
      if (!m || (!final && m[0] === '\r' && m.index === buffer.length - 1)) return;
      yield buffer.slice(0, m.index);
      buffer = buffer.slice(m.index + m[0].length);
    }
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      for (const line of takeLines(done)) {
        if (line === '') {
          if (data.length > 0) yield { event: event || 'message', data: data.join('\n'), id: lastId, ...(retry === undefined ? {} : { retry }) };
          event = '';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
        else if (field === 'id' && !value.includes('\0')) lastId = value;
        else if (field === 'retry' && /^\d+$/.test(value)) retry = Number(value);
      }
      if (done) return; // an event without its blank line is incomplete, and dropped (as EventSource does)
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // Also when the consumer stopped early: the connection is closed, not left to idle.
    reader.cancel().catch(() => {});
  }
}
