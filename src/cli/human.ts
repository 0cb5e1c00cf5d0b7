export { goG, humanDuration, humanSize } from '../util/human.js';
import { humanDuration } from '../util/human.js';

/** `<duration> ago` for a Unix time in seconds. */
export function ago(unixSeconds: number, now = Date.now()): string {
  return `${humanDuration(Math.max(0, now - unixSeconds * 1000))} ago`;
}

/** Go's time.Time.String() for a Unix time, in UTC: `2026-12-01 08:21:14 +0000 UTC`. */
export function goTime(unixSeconds: number): string {
  const iso = new Date(unixSeconds * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} +0000 UTC`;
}

/** docker's stringid.TruncateID. */
export function shortId(id: string): string {
  const bare = id.includes(':') ? id.slice(id.indexOf(':') + 1) : id;
  return bare.slice(0, 12);
}

/** docker's formatter.Ellipsis (by runes). */
export function ellipsis(s: string, max: number): string {
  const chars = [...s];
  if (chars.length <= max) return s;
  if (max <= 1) return chars.slice(0, max).join('');
  return chars.slice(0, max - 1).join('') + '…';
}

/** docker's units.RAMInBytes: `512m`, `1g`, `100` (binary units). */
export function ramInBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(text.trim());
  if (!m) throw new Error(`invalid size: '${text}'`);
  const mult: Record<string, number> = {
    '': 1,
    k: 1024,
    m: 1024 ** 2,
    g: 1024 ** 3,
    t: 1024 ** 4,
    p: 1024 ** 5,
  };
  return Math.trunc(Number(m[1]) * (mult[(m[2] ?? '').toLowerCase()] ?? 1));
}
