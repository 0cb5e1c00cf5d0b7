/**
 * The values `berth registry serve` and `gc` take on their command lines, parsed without I/O.
 */

/** Parses a size: bytes, or a number with a binary suffix (`4MiB`, `512k`, `1g`). */
export function parseBytes(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(s);
  if (!m) throw new Error(`invalid size ${JSON.stringify(s)}`);
  const unit = (m[2] ?? '').toLowerCase();
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[unit] ?? 1;
  const n = Math.floor(Number(m[1]) * mult);
  if (!Number.isSafeInteger(n)) throw new Error(`invalid size ${JSON.stringify(s)}`);
  return n;
}

/** Parses a duration in Go's style (`90s`, `5m`, `1h30m`, `250ms`) or plain seconds; milliseconds. */
export function parseDuration(s: string): number {
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = s;
  const re = /^(\d+(?:\.\d+)?)(ms|s|m|h)/;
  if (rest === '') throw new Error(`invalid duration ${JSON.stringify(s)}`);
  while (rest !== '') {
    const m = re.exec(rest);
    if (!m) throw new Error(`invalid duration ${JSON.stringify(s)}`);
    total += Number(m[1]) * (units[m[2] as string] as number);
    rest = rest.slice(m[0].length);
  }
  return total;
}

/** Parses `host:port` (`[::1]:5000`, `:5000` meaning every address); port 0 picks a free one. */
export function parseAddr(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(s);
  if (!m) throw new Error(`invalid address ${JSON.stringify(s)} (want host:port)`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid port in ${JSON.stringify(s)}`);
  return { host: m[1] ?? (m[2] === '' ? '0.0.0.0' : (m[2] as string)), port };
}
