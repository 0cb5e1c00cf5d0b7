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
  // go-units' parseSize: the number is everything up to the last digit, dot or space.
  const sep = Math.max(...[...'0123456789. '].map((c) => text.lastIndexOf(c)));
  if (sep < 0) throw new Error(`invalid size: '${text}'`);
  const num = text[sep] === ' ' ? text.slice(0, sep) : text.slice(0, sep + 1);
  let suffix = text.slice(sep + 1);
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(num)) {
    throw new Error(`strconv.ParseFloat: parsing ${JSON.stringify(num)}: invalid syntax`);
  }
  const size = Number(num);
  if (size < 0) throw new Error(`invalid size: '${text}'`);
  if (suffix === '') return Math.trunc(size);
  const bad = (): never => {
    throw new Error(`invalid suffix: '${suffix}'`);
  };
  if (suffix.length > 3) bad();
  suffix = suffix.toLowerCase();
  if (suffix[0] === 'b') return suffix.length > 1 ? bad() : Math.trunc(size);
  const exponent = 'kmgtp'.indexOf(suffix[0] ?? '');
  if (exponent < 0) bad();
  if (suffix.length === 2 && suffix[1] !== 'b') bad();
  if (suffix.length === 3 && suffix.slice(1) !== 'ib') bad();
  return Math.trunc(size * 1024 ** (exponent + 1));
}
