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
