import { ClientError } from '../client/client.js';
import { ExitError } from './command.js';
import { daemonMessage } from './errors.js';

/**
 * The exit code docker run gives a failed start: 127 when the command was not found, 126
 * when it could not be run, else 125.
 */
export function startExitCode(message: string): number {
  if (
    message.includes('executable file not found') ||
    message.includes('no such file or directory') ||
    message.includes('system cannot find the file specified')
  ) {
    return 127;
  }
  if (message.includes('permission denied') || message.includes('is a directory')) return 126;
  return 125;
}

/** An engine error during run/create/start, as `berth: Error response from daemon: ...`. */
export function runFailure(err: unknown, code = 125): ExitError {
  if (err instanceof ClientError) return new ExitError(`berth: ${daemonMessage(err)}`, code);
  if (err instanceof ExitError) return err;
  return new ExitError(`berth: ${err instanceof Error ? err.message : String(err)}`, code);
}

/** `busybox` → `busybox:latest`, as docker names a missing image. */
export function withDefaultTag(ref: string): string {
  if (ref.includes('@')) return ref;
  const slash = ref.lastIndexOf('/');
  return ref.lastIndexOf(':') > slash ? ref : `${ref}:latest`;
}
