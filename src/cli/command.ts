import type { Readable, Writable } from 'node:stream';
import type { EngineClient } from '../client/client.js';
import type { FlagSpec, Parsed } from './args.js';

export interface Io {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

export interface CommandContext extends Io {
  /** The command path as typed, for messages: `run`, `container ls`. */
  name: string;
  host: string;
  /** Made on first use, so commands that fail on flags never connect. */
  client(): EngineClient;
}

export interface Command {
  usage: string;
  description: string;
  flags: FlagSpec[];
  /** False for run/create/exec: flags end at the first positional. */
  interspersed?: boolean;
  /** Minimum positional arguments (a usage error below it). */
  minArgs?: number;
  maxArgs?: number;
  /** Returns the exit code. */
  run(ctx: CommandContext, parsed: Parsed): Promise<number>;
}

/** A failure with a ready message and exit code (125 for engine errors in run). */
export class ExitError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'ExitError';
  }
}

export function write(stream: Writable, text: string): void {
  stream.write(text);
}
