import type { CommandResult } from './harness.js';

/**
 * What legitimately differs between two engines running the same command: IDs, times, sizes
 * of images, the API version. Everything else in the docker CLI's output should be the same.
 */

/** What the comparison looks at: stdout whole, the first line of stderr, the exit code. */
export interface Outcome {
  stdout: string;
  stderr: string;
  code: number;
}

export interface NormalizeOptions {
  /** Also replace sizes (`1.98MB`, `0B`): images differ in bytes between the engines. */
  sizes?: boolean;
}

const humanDuration =
  /\b(Less than a second|About a minute|About an hour|\d+ (?:seconds?|minutes?|hours?|days?|weeks?|months?|years?))\b/g;

export function normalize(text: string, options: NormalizeOptions = {}): string {
  let s = text
    .replace(/\b[0-9a-f]{64}\b/g, '<ID>')
    .replace(/\b[0-9a-f]{12}\b/g, '<id>')
    // docker logs -t and events print fixed nine-digit fractions; anything else stays raw.
    .replace(/\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z/g, '<ts>')
    .replace(humanDuration, '<dur>');
  if (options.sizes) s = s.replace(/\b\d+(?:\.\d+)?(?:B|kB|MB|GB)\b/g, '<size>');
  // Column padding follows the widths of what was replaced: compare the cells, not the spaces.
  return s
    .split('\n')
    .map((l) => l.replace(/ {2,}/g, '   ').trimEnd())
    .join('\n');
}

export function outcome(r: CommandResult, options: NormalizeOptions = {}): Outcome {
  return {
    stdout: normalize(r.stdout, options),
    stderr: normalize(r.stderr.split('\n')[0] ?? '', options),
    code: r.code,
  };
}
