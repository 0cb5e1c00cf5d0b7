import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { CommandOptions, CommandResult } from './types.js';

const DEFAULT_TIMEOUT_MS = 60_000;

/** Runs a program to its exit, timing it from spawn to close. Never throws for a failed exit. */
export function runCommand(
  argv: string[],
  env: NodeJS.ProcessEnv,
  options: CommandOptions = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const start = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let stdoutBytes = 0;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      options.onStdout?.(chunk);
      if (options.discardStdout !== true) out.push(chunk);
    });
    options.signal?.addEventListener('abort', () => child.kill('SIGTERM'), { once: true });
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const finish = (code: number | null): void => {
      clearTimeout(timer);
      resolve({
        code,
        ms: performance.now() - start,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        stdoutBytes,
        timedOut,
      });
    };
    child.on('error', (e) => {
      err.push(Buffer.from(String(e)));
      finish(null);
    });
    child.on('close', (code) => finish(code));
  });
}

/** A short description of a failed command for an error message. */
export function describeFailure(argv: string[], r: CommandResult): string {
  const why = r.timedOut ? 'timed out' : `exit ${String(r.code)}`;
  return `${argv.join(' ')}: ${why}: ${r.stderr.trim().slice(0, 400)}`;
}
