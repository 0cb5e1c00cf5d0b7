import { InvalidArgumentError } from '../errors/index.js';

/**
 * Detach keys, as dockerd reads them from an attached client's TTY input: a comma-separated
 * list of `ctrl-<c>` or single characters, `ctrl-p,ctrl-q` by default. One reading for the
 * engine (which detaches the attachment) and the CLI (which stops its session on them).
 */
export function parseDetachKeys(spec: string | undefined): number[] {
  const keys = spec === undefined || spec === '' ? 'ctrl-p,ctrl-q' : spec;
  const bytes: number[] = [];
  for (const key of keys.split(',')) {
    const k = key.trim().toLowerCase();
    if (k.length === 1) {
      bytes.push(k.charCodeAt(0));
      continue;
    }
    const m = /^ctrl-([a-z@[\\\]^_])$/.exec(k);
    if (!m?.[1]) throw new InvalidArgumentError(`Invalid detach keys (${keys}) provided`);
    const c = m[1];
    bytes.push(
      c >= 'a' && c <= 'z'
        ? c.charCodeAt(0) - 96
        : (({ '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, _: 31 } as Record<string, number>)[c] ??
            0),
    );
  }
  return bytes;
}

export type DetachScanner = (chunk: Buffer) => { data: Buffer; detached: boolean };

/**
 * A stateful scanner over input chunks: it returns what to pass on, and whether the sequence
 * is complete. The sequence itself is swallowed; bytes that only began to look like it are
 * passed on once the next byte shows they are not it.
 */
export function detachScanner(keys: readonly number[]): DetachScanner {
  let matched = 0;
  return (chunk) => {
    const out: number[] = [];
    for (const byte of chunk) {
      if (byte === keys[matched]) {
        matched++;
        if (matched === keys.length) return { data: Buffer.from(out), detached: true };
        continue;
      }
      if (matched > 0) {
        out.push(...keys.slice(0, matched));
        matched = 0;
      }
      if (byte === keys[0]) matched = 1;
      else out.push(byte);
    }
    return { data: Buffer.from(out), detached: false };
  };
}
