/** Go's `%.<p>g`: p significant digits, exponent form when the exponent is < -4 or >= p. */
export function goG(x: number, precision: number): string {
  if (x === 0) return '0';
  const e = x.toExponential(precision - 1);
  const [mant = '', expText = ''] = e.split('e');
  const exp = Number(expText);
  const trim = (t: string): string =>
    t.includes('.') ? t.replace(/0+$/, '').replace(/\.$/, '') : t;
  if (exp < -4 || exp >= precision) {
    const sign = exp < 0 ? '-' : '+';
    return `${trim(mant)}e${sign}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return trim(x.toFixed(Math.max(0, precision - 1 - exp)));
}

const DECIMAL = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/** docker's units.HumanSizeWithPrecision: decimal units, `precision` significant digits. */
export function humanSize(bytes: number, precision = 3): string {
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < DECIMAL.length - 1) {
    size /= 1000;
    i++;
  }
  return `${goG(size, precision)}${DECIMAL[i]}`;
}

/** docker's units.HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3600000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(ms / 3600000 / 24 / 365)} years`;
}

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
