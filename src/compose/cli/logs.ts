import type { Writable } from 'node:stream';
import type { ContainerSummary, EngineClient } from '../../client/client.js';
import { demux } from '../../client/streams.js';
import { LABEL } from '../labels.js';

const COLORS = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94];

/** `<service>-<n>` (or the container_name), the prefix compose prints. */
export function logName(c: ContainerSummary): string {
  const svc = c.Labels?.[LABEL.service];
  const n = c.Labels?.[LABEL.number];
  const name = (c.Names[0] ?? '').replace(/^\//, '');
  const project = c.Labels?.[LABEL.project];
  if (svc && n && name === `${project}-${svc}-${n}`) return `${svc}-${n}`;
  return name;
}

export interface LogPrinter {
  /** Prints one line (without its newline) for a container. */
  line(c: ContainerSummary, text: string, stream: 'stdout' | 'stderr'): void;
  /** A line of compose's own (`web-1 exited with code 0`). */
  note(text: string): void;
}

/** Prefixes lines with `name  | ` padded to the longest name, coloured per service on a TTY. */
export function newLogPrinter(
  out: Writable,
  containers: ContainerSummary[],
  options: { color: boolean; prefix?: boolean },
): LogPrinter {
  const width = Math.max(0, ...containers.map((c) => logName(c).length));
  const services = [...new Set(containers.map((c) => c.Labels?.[LABEL.service] ?? ''))];
  const colour = (c: ContainerSummary, s: string): string => {
    if (!options.color) return s;
    const i = services.indexOf(c.Labels?.[LABEL.service] ?? '');
    return `\x1b[${COLORS[(i < 0 ? 0 : i) % COLORS.length] as number}m${s}\x1b[0m`;
  };
  return {
    line(c, text) {
      if (options.prefix === false) out.write(`${text}\n`);
      else out.write(`${colour(c, `${logName(c).padEnd(width)}  | `)}${text}\n`);
    },
    note(text) {
      out.write(`${text}\n`);
    },
  };
}

/** Streams one container's logs through the printer, line by line, until the stream ends. */
export async function pumpLogs(
  client: EngineClient,
  c: ContainerSummary,
  printer: LogPrinter,
  query: Record<string, string | boolean | undefined>,
  signal?: AbortSignal,
): Promise<void> {
  const info = (await client.containerInspect(c.Id)) as { Config: { Tty: boolean } };
  const res = await client.stream('GET', `/containers/${c.Id}/logs`, {
    query: { stdout: true, stderr: true, ...query },
    ...(signal ? { signal } : {}),
  });
  const pending: Record<string, string> = { stdout: '', stderr: '' };
  const feed = (stream: 'stdout' | 'stderr', data: Buffer): void => {
    const text = pending[stream] + data.toString('utf8');
    const lines = text.split('\n');
    pending[stream] = lines.pop() ?? '';
    for (const l of lines) printer.line(c, l.replace(/\r$/, ''), stream);
  };
  try {
    if (info.Config.Tty) for await (const chunk of res) feed('stdout', chunk as Buffer);
    else
      for await (const f of demux(res)) feed(f.stream === 'stderr' ? 'stderr' : 'stdout', f.data);
  } catch (err: unknown) {
    if ((err as Error).name !== 'AbortError' && !signal?.aborted) throw err;
  }
  for (const s of ['stdout', 'stderr'] as const)
    if (pending[s] !== '') printer.line(c, pending[s] as string, s);
}
