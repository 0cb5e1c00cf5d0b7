import { spawn, type SpawnOptions } from 'node:child_process';
import { SystemError } from '../errors/index.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program to completion and collects its output. Rejects with a SystemError naming the
 * command when it cannot be started or exits non-zero (unless `allowFailure`).
 */
export async function run(
  file: string,
  args: readonly string[],
  options: SpawnOptions & { input?: string | Uint8Array; allowFailure?: boolean } = {},
): Promise<RunResult> {
  const { input, allowFailure, ...spawnOptions } = options;
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(file, args, { ...spawnOptions, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', (cause) => reject(new SystemError(`cannot run ${file}`, { cause })));
    child.on('close', (code, signal) => {
      const result = {
        code: code ?? 128 + (signal ? 9 : 0),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if (result.code !== 0 && !allowFailure) {
        const detail = (result.stderr || result.stdout).trim().split('\n').pop() ?? '';
        reject(new SystemError(`${file} ${args[0] ?? ''} failed (exit ${result.code}): ${detail}`));
      } else {
        resolve(result);
      }
    });
    child.stdin?.end(input);
  });
}
