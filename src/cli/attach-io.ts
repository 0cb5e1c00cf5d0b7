import { spawnSync } from 'node:child_process';
import type { Hijacked } from '../client/client.js';
import { newDemuxer } from '../client/streams.js';
import type { Io } from './command.js';
import { detachScanner, parseDetachKeys } from '../util/detach-keys.js';

interface TtyIn {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

interface TtyOut {
  isTTY?: boolean;
  rows?: number;
  columns?: number;
}

export interface StreamOptions {
  tty: boolean;
  /** Send our stdin to the container. */
  stdin: boolean;
  detachKeys?: string;
  /** Called with the terminal size at start and on SIGWINCH (TTY only). */
  resize?: (height: number, width: number) => Promise<void>;
}

/**
 * Runs an attached session: output to stdout/stderr (demuxed unless TTY), stdin to the
 * container (raw mode on a terminal; EOF half-closes the connection so the container sees
 * its stdin end while output keeps coming). Resolves when the server ends the stream, or
 * with 'detached' after the detach keys.
 */
export function streamSession(
  io: Io,
  hj: Hijacked,
  options: StreamOptions,
): Promise<'done' | 'detached'> {
  const socket = hj.socket;
  const stdinTty = io.stdin as unknown as TtyIn;
  const stdoutTty = io.stdout as unknown as TtyOut;
  let rawSet = false;
  const cleanups: (() => void)[] = [];
  return new Promise((resolve) => {
    let finished = false;
    const finish = (how: 'done' | 'detached'): void => {
      if (finished) return;
      finished = true;
      for (const c of cleanups) c();
      if (rawSet) stdinTty.setRawMode?.(false);
      resolve(how);
    };
    const demuxer = newDemuxer((f) => {
      (f.stream === 'stderr' ? io.stderr : io.stdout).write(f.data);
    });
    socket.on('data', (chunk: Buffer) => {
      if (hj.multiplexed) demuxer.push(chunk);
      else io.stdout.write(chunk);
    });
    socket.on('end', () => finish('done'));
    socket.on('close', () => finish('done'));
    socket.on('error', () => finish('done'));
    socket.resume();

    if (options.stdin) {
      if (options.tty && stdinTty.isTTY && stdinTty.setRawMode) {
        stdinTty.setRawMode(true);
        // libuv's raw mode keeps output post-processing (ONLCR), so the container's own
        // \r\n would reach the terminal as \r\r\n; docker's raw mode turns it off. Leaving raw
        // mode restores the terminal's saved settings, OPOST included.
        spawnSync('stty', ['-opost'], { stdio: ['inherit', 'ignore', 'ignore'] });
        rawSet = true;
      }
      const watch = options.tty ? detachScanner(parseDetachKeys(options.detachKeys)) : undefined;
      const onData = (chunk: Buffer): void => {
        if (!watch) {
          socket.write(chunk);
          return;
        }
        const { data, detached: detach } = watch(chunk);
        if (data.length > 0) socket.write(data);
        if (detach) {
          socket.destroy();
          finish('detached');
        }
      };
      const onEnd = (): void => {
        if (!finished) socket.end();
      };
      io.stdin.on('data', onData);
      io.stdin.on('end', onEnd);
      cleanups.push(() => {
        io.stdin.off('data', onData);
        io.stdin.off('end', onEnd);
        io.stdin.pause();
      });
      io.stdin.resume();
    }

    if (options.tty && options.resize && stdoutTty.isTTY) {
      const send = (): void => {
        const h = stdoutTty.rows ?? 0;
        const w = stdoutTty.columns ?? 0;
        if (h > 0 && w > 0) options.resize?.(h, w).catch(() => undefined);
      };
      send();
      process.on('SIGWINCH', send);
      cleanups.push(() => process.off('SIGWINCH', send));
    }
  });
}

/** Forwards SIGINT/SIGTERM/SIGHUP/SIGQUIT to the container (docker's --sig-proxy). */
export function proxySignals(kill: (signal: string) => Promise<void>): () => void {
  const names = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;
  const handlers = names.map((name) => {
    const h = (): void => {
      kill(name).catch(() => undefined);
    };
    process.on(name, h);
    return [name, h] as const;
  });
  return () => {
    for (const [name, h] of handlers) process.off(name, h);
  };
}
