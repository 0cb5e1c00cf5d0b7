import { InvalidArgumentError } from '../errors/index.js';

/**
 * Detach keys, as dockerd reads them from an attached client's input: a comma-separated list
 * of `ctrl-<c>` or single characters, `ctrl-p,ctrl-q` by default. The sequence itself is
 * swallowed; bytes that only began to look like it are passed on.
 */
export function parseDetachKeys(spec: string | undefined): Buffer {
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
  return Buffer.from(bytes);
}

export type DetachScanner = (chunk: Buffer) => { data: Buffer; detached: boolean };

/** Returns a stateful scanner: feed it input chunks; it returns what to pass on. */
export function detachScanner(spec: string | undefined): DetachScanner {
  const seq = parseDetachKeys(spec);
  let matched = 0;
  return (chunk) => {
    const out: number[] = [];
    for (const byte of chunk) {
      if (byte === seq[matched]) {
        matched++;
        if (matched === seq.length) return { data: Buffer.from(out), detached: true };
        continue;
      }
      if (matched > 0) {
        out.push(...seq.subarray(0, matched));
        matched = 0;
      }
      if (byte === seq[0]) matched = 1;
      else out.push(byte);
    }
    return { data: Buffer.from(out), detached: false };
  };
}
