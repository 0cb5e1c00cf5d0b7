import type { Readable } from 'node:stream';

/** One message conmon writes on its sync pipe (API version 1). */
export interface SyncMessage {
  data: number;
  message?: string;
}

/**
 * Reads conmon's newline-separated JSON messages from its sync pipe. `next()` resolves with the
 * next message, or undefined once the pipe has closed without one.
 */
export class SyncReader {
  readonly #queue: SyncMessage[] = [];
  readonly #waiters: ((m: SyncMessage | undefined) => void)[] = [];
  #buf = '';
  #closed = false;

  constructor(stream: Readable) {
    stream.setEncoding('utf8');
    stream.on('data', (s: string) => {
      this.#buf += s;
      let nl: number;
      while ((nl = this.#buf.indexOf('\n')) >= 0) {
        const line = this.#buf.slice(0, nl).trim();
        this.#buf = this.#buf.slice(nl + 1);
        if (line !== '') this.#deliver(parseSync(line));
      }
    });
    const close = (): void => {
      this.#closed = true;
      for (const w of this.#waiters.splice(0)) w(undefined);
    };
    stream.on('end', close);
    stream.on('close', close);
    stream.on('error', close);
  }

  #deliver(m: SyncMessage): void {
    const w = this.#waiters.shift();
    if (w) w(m);
    else this.#queue.push(m);
  }

  next(): Promise<SyncMessage | undefined> {
    const m = this.#queue.shift();
    if (m) return Promise.resolve(m);
    if (this.#closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

function parseSync(line: string): SyncMessage {
  try {
    const v = JSON.parse(line) as { data?: unknown; message?: unknown };
    return {
      data: typeof v.data === 'number' ? v.data : -1,
      ...(typeof v.message === 'string' ? { message: v.message } : {}),
    };
  } catch {
    return { data: -1, message: `unreadable message from conmon: ${line}` };
  }
}

/**
 * The words of runc's error in what conmon relays: runc logs JSON lines (`--log-format json`);
 * the error-level `msg`s are the message, anything else is passed on trimmed.
 */
export function runtimeMessage(raw: string): string {
  const msgs: string[] = [];
  for (const line of raw.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    try {
      const v = JSON.parse(t) as { level?: unknown; msg?: unknown };
      if ((v.level === 'error' || v.level === 'fatal') && typeof v.msg === 'string') {
        msgs.push(v.msg);
      }
    } catch {
      // not one of runc's log lines
    }
  }
  return msgs.length > 0 ? msgs.join('; ') : raw.trim();
}
