import { watch, promises as fs } from 'node:fs';
import { isNotFound } from '../errors/index.js';
import type { LogChunk } from './containers.js';

/**
 * Reading container logs as conmon writes them (k8s-file): one record per line,
 * `<RFC 3339 time> <stdout|stderr> <P|F> <bytes>`, where P marks a partial line whose newline
 * is still to come (conmon splits long lines and unterminated writes).
 */

export interface ReadLogsOptions {
  /** Seconds since the epoch; records before are skipped. */
  since?: number;
  /** Seconds since the epoch; records after are skipped. */
  until?: number;
  tail: number | 'all';
  follow: boolean;
  /** Resolves when no more output can come (the container stopped); ends a follow. */
  done?: Promise<void>;
  signal?: AbortSignal;
}

interface ParsedRecord {
  time: string;
  seconds: number;
  stream: 'stdout' | 'stderr';
  partial: boolean;
  data: Buffer;
}

export function parseRecord(line: Buffer): ParsedRecord | undefined {
  const s1 = line.indexOf(0x20);
  const s2 = s1 < 0 ? -1 : line.indexOf(0x20, s1 + 1);
  const s3 = s2 < 0 ? -1 : line.indexOf(0x20, s2 + 1);
  if (s3 < 0 && s2 < 0) return undefined;
  const time = line.subarray(0, s1).toString('latin1');
  const stream = line.subarray(s1 + 1, s2).toString('latin1');
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const flagEnd = s3 < 0 ? line.length : s3;
  const flag = line.subarray(s2 + 1, flagEnd).toString('latin1');
  const data = s3 < 0 ? Buffer.alloc(0) : line.subarray(s3 + 1);
  const partial = flag.split(':').includes('P');
  const seconds = parseTime(time);
  return { time: normaliseTime(time), seconds, stream, partial, data };
}

/** RFC 3339 with nanoseconds, to seconds as a float (the fraction beyond ms kept roughly). */
function parseTime(time: string): number {
  const ms = Date.parse(time);
  const frac = /\.(\d+)/.exec(time)?.[1] ?? '';
  const sub = frac.length > 3 ? Number(`0.${frac.slice(3)}`) / 1000 : 0;
  return ms / 1000 + sub;
}

/** Docker shows log times in UTC with nanoseconds: 2024-01-02T03:04:05.123456789Z. */
function normaliseTime(time: string): string {
  const ms = Date.parse(time);
  if (Number.isNaN(ms)) return time;
  const frac = (/\.(\d+)/.exec(time)?.[1] ?? '').padEnd(9, '0').slice(0, 9);
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}.${frac}Z`;
}

/** Joins partial records into whole lines (with their newline); a trailing partial stays partial. */
function* assemble(records: Iterable<ParsedRecord>): Generator<ParsedRecord> {
  const pending = new Map<string, ParsedRecord[]>();
  for (const r of records) {
    const parts = pending.get(r.stream) ?? [];
    if (r.partial) {
      parts.push(r);
      pending.set(r.stream, parts);
      continue;
    }
    pending.delete(r.stream);
    const first = parts[0] ?? r;
    yield {
      ...first,
      partial: false,
      data: Buffer.concat([...parts.map((p) => p.data), r.data, Buffer.from('\n')]),
    };
  }
  for (const parts of pending.values()) {
    const first = parts[0];
    if (first) yield { ...first, partial: true, data: Buffer.concat(parts.map((p) => p.data)) };
  }
}

function splitLines(buf: Buffer): { lines: Buffer[]; rest: Buffer } {
  const lines: Buffer[] = [];
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(0x0a, start);
    if (nl < 0) break;
    lines.push(buf.subarray(start, nl));
    start = nl + 1;
  }
  return { lines, rest: buf.subarray(start) };
}

function keep(r: ParsedRecord, o: ReadLogsOptions): boolean {
  return (
    (o.since === undefined || r.seconds >= o.since) &&
    (o.until === undefined || r.seconds <= o.until)
  );
}

function toChunk(r: ParsedRecord): LogChunk {
  return { stream: r.stream, data: r.data, time: r.time };
}

async function readFrom(file: string, offset: number): Promise<{ data: Buffer; end: number }> {
  let handle;
  try {
    handle = await fs.open(file, 'r');
  } catch (err: unknown) {
    if (isNotFound(err)) return { data: Buffer.alloc(0), end: offset };
    throw err;
  }
  try {
    const { size } = await handle.stat();
    if (size <= offset) return { data: Buffer.alloc(0), end: offset };
    const data = Buffer.alloc(size - offset);
    const { bytesRead } = await handle.read(data, 0, data.length, offset);
    return { data: data.subarray(0, bytesRead), end: offset + bytesRead };
  } finally {
    await handle.close();
  }
}

/** The log as chunks: whole lines (partials joined), filtered, tailed, and followed if asked. */
export async function* readLogs(file: string, options: ReadLogsOptions): AsyncGenerator<LogChunk> {
  const first = await readFrom(file, 0);
  const { lines, rest } = splitLines(first.data);
  let offset = first.end - rest.length;
  let whole = [
    ...assemble(lines.map(parseRecord).filter((r): r is ParsedRecord => r !== undefined)),
  ];
  // A trailing partial is shown only when not following; a follow will complete it.
  const trailingPartial = whole.length > 0 && whole[whole.length - 1]?.partial === true;
  if (options.follow && trailingPartial) {
    whole = whole.slice(0, -1);
    offset = await offsetOfLastPartialRun(lines, offset);
  }
  let selected = whole.filter((r) => keep(r, options));
  if (options.tail !== 'all') selected = options.tail <= 0 ? [] : selected.slice(-options.tail);
  for (const r of selected) yield toChunk(r);
  if (!options.follow) return;

  let finished = false;
  void options.done?.then(() => (finished = true));
  let wake: (() => void) | undefined;
  const poke = (): void => wake?.();
  const watcher = watchQuietly(file, poke);
  void options.done?.then(poke);
  options.signal?.addEventListener('abort', poke);
  try {
    let carry = Buffer.alloc(0);
    const pending: ParsedRecord[] = [];
    while (!options.signal?.aborted) {
      const wasFinished = finished;
      const next = await readFrom(file, offset);
      offset = next.end;
      const { lines: more, rest: tail } = splitLines(Buffer.concat([carry, next.data]));
      carry = Buffer.from(tail);
      for (const line of more) {
        const r = parseRecord(line);
        if (!r) continue;
        pending.push(r);
        if (r.partial) continue;
        for (const whole of assemble(pending.splice(0)))
          if (keep(whole, options)) yield toChunk(whole);
      }
      if (wasFinished && next.data.length === 0) break;
      if (next.data.length > 0) continue;
      await new Promise<void>((resolve) => {
        wake = resolve;
        // Polls as well: inotify may miss writes made before the watch was set up.
        setTimeout(resolve, 250).unref();
      });
      wake = undefined;
    }
  } finally {
    watcher?.close();
    options.signal?.removeEventListener('abort', poke);
  }
}

/** Rewinds `offset` to the start of the trailing run of partial records, to re-read them. */
async function offsetOfLastPartialRun(lines: Buffer[], offset: number): Promise<number> {
  let back = 0;
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i];
    if (!line) break;
    const r = parseRecord(line);
    if (!r?.partial) break;
    back += line.length + 1;
  }
  return offset - back;
}

function watchQuietly(file: string, onChange: () => void): { close(): void } | undefined {
  try {
    const w = watch(file, { persistent: false }, onChange);
    w.on('error', () => undefined);
    return w;
  } catch (err: unknown) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
