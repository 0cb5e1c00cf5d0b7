import type { Readable } from 'node:stream';
import { jsonLines } from '../client/streams.js';
import { ExitError } from './command.js';

interface Message {
  stream?: string;
  status?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/** Prints a JSON progress stream (load, import) as docker does; an error entry fails. */
export async function printProgress(
  source: Readable,
  out: NodeJS.WritableStream | { write(s: string): unknown },
): Promise<Message[]> {
  const seen: Message[] = [];
  for await (const m of jsonLines<Message>(source)) {
    seen.push(m);
    if (m.error || m.errorDetail)
      throw new ExitError(m.errorDetail?.message ?? m.error ?? 'failed', 1);
    if (m.stream !== undefined) out.write(m.stream);
    else if (m.status !== undefined) out.write(`${m.id ? `${m.id}: ` : ''}${m.status}\n`);
  }
  return seen;
}

interface JsonMessage extends Message {
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  aux?: unknown;
}

/**
 * Prints a pull or push stream as the docker CLI does (jsonmessage.DisplayJSONMessagesStream):
 * on a terminal one line per layer ID, rewritten in place (cursor up, clear line) with its
 * progress bar; elsewhere one plain line per message, leaving out those with a bar. An error
 * message fails with its text (exit 1).
 */
export async function displayJsonMessages(
  source: Readable,
  out: { write(s: string): unknown },
  tty: boolean,
): Promise<JsonMessage[]> {
  const seen: JsonMessage[] = [];
  let ids = new Map<string, number>();
  for await (const m of jsonLines<JsonMessage>(source)) {
    seen.push(m);
    if (m.error || m.errorDetail)
      throw new ExitError(m.errorDetail?.message ?? m.error ?? 'failed', 1);
    if (m.status === undefined && m.stream === undefined) continue;
    const progress = m.progress ?? '';
    let diff = 0;
    if (m.id !== undefined && m.id !== '' && m.progressDetail !== undefined) {
      let line = ids.get(m.id);
      if (line === undefined) {
        line = ids.size;
        ids.set(m.id, line);
        if (tty) out.write('\n');
      }
      diff = ids.size - line;
      if (tty) out.write(`\x1b[${diff}A`);
    } else {
      ids = new Map();
    }
    if (tty) {
      const idPart = m.id ? `${m.id}: ` : '';
      if (m.progressDetail !== undefined && m.stream === undefined) {
        out.write(`\r\x1b[2K${idPart}${m.status ?? ''} ${progress}\r`);
      } else if (m.stream !== undefined) out.write(`${idPart}${m.stream}`);
      else out.write(`${idPart}${m.status ?? ''}\n`);
      if (m.id && m.progressDetail !== undefined) out.write(`\x1b[${diff}B`);
    } else {
      if (progress !== '') continue;
      const idPart = m.id ? `${m.id}: ` : '';
      if (m.stream !== undefined) out.write(`${idPart}${m.stream}`);
      else out.write(`${idPart}${m.status ?? ''}\n`);
    }
  }
  return seen;
}
