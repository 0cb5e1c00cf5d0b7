import { InvalidArgumentError } from '../errors/index.js';

/** An IPv4 or IPv6 address as a number, with its family. */
export interface Addr {
  family: 4 | 6;
  value: bigint;
}

/** A prefix: the network address (host bits zero) and its length. */
export interface Cidr {
  family: 4 | 6;
  base: bigint;
  bits: number;
}

const width = (family: 4 | 6): number => (family === 4 ? 32 : 128);

function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseV6(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  let text = s;
  let tail: bigint[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const v4 = parseV4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = [v4 >> 16n, v4 & 0xffffn];
    text = `${text.slice(0, lastColon + 1)}x`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const group = (h: string): string[] => (h === '' ? [] : h.split(':'));
  const head = group(halves[0] ?? '');
  const rest = halves.length === 2 ? group(halves[1] ?? '') : [];
  const toNums = (g: string[]): bigint[] | undefined => {
    const out: bigint[] = [];
    for (const x of g) {
      if (x === 'x') {
        out.push(...tail);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(x)) return undefined;
      out.push(BigInt(`0x${x}`));
    }
    return out;
  };
  const a = toNums(head);
  const b = toNums(rest);
  if (!a || !b) return undefined;
  const missing = 8 - a.length - b.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...a, ...new Array<bigint>(halves.length === 2 ? missing : 0).fill(0n), ...b];
  return all.reduce((acc, g) => (acc << 16n) | g, 0n);
}

/** Parses an address; undefined when it is not one. */
export function tryParseAddr(s: string): Addr | undefined {
  const v4 = parseV4(s);
  if (v4 !== undefined) return { family: 4, value: v4 };
  if (s.includes(':')) {
    const v6 = parseV6(s);
    if (v6 !== undefined) return { family: 6, value: v6 };
  }
  return undefined;
}

export function parseAddr(s: string, what = 'address'): Addr {
  const a = tryParseAddr(s);
  if (!a) throw new InvalidArgumentError(`invalid ${what}: ${s}`);
  return a;
}

export function formatAddr(a: Addr): string {
  if (a.family === 4) {
    const v = a.value;
    return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((a.value >> BigInt(i * 16)) & 0xffffn));
  // The longest run of two or more zero groups becomes "::" (RFC 5952).
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Parses `a.b.c.d/n` (or v6); host bits must be zero unless `loose`. */
export function parseCidr(s: string, options: { loose?: boolean; what?: string } = {}): Cidr {
  const what = options.what ?? 'subnet';
  const slash = s.indexOf('/');
  if (slash < 0) throw new InvalidArgumentError(`invalid CIDR address: ${s}`);
  const a = tryParseAddr(s.slice(0, slash));
  const bitsText = s.slice(slash + 1);
  if (!a || !/^\d{1,3}$/.test(bitsText))
    throw new InvalidArgumentError(`invalid CIDR address: ${s}`);
  const bits = Number(bitsText);
  if (bits > width(a.family)) throw new InvalidArgumentError(`invalid CIDR address: ${s}`);
  const base = a.value & mask(a.family, bits);
  if (base !== a.value && !options.loose)
    throw new InvalidArgumentError(
      `invalid ${what} ${s}: it should be ${formatCidr({ family: a.family, base, bits })}`,
    );
  return { family: a.family, base, bits };
}

export function formatCidr(c: Cidr): string {
  return `${formatAddr({ family: c.family, value: c.base })}/${c.bits}`;
}

export function mask(family: 4 | 6, bits: number): bigint {
  const w = BigInt(width(family));
  const all = (1n << w) - 1n;
  return all ^ ((1n << (w - BigInt(bits))) - 1n);
}

/** The last address of the prefix. */
export function lastAddr(c: Cidr): bigint {
  return c.base | ((1n << BigInt(width(c.family) - c.bits)) - 1n);
}

export function contains(c: Cidr, a: Addr): boolean {
  return c.family === a.family && (a.value & mask(c.family, c.bits)) === c.base;
}

/** Whether two prefixes share any address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const bits = Math.min(a.bits, b.bits);
  const m = mask(a.family, bits);
  return (a.base & m) === (b.base & m);
}

/** Whether `inner` lies wholly inside `outer`. */
export function within(inner: Cidr, outer: Cidr): boolean {
  return inner.family === outer.family && inner.bits >= outer.bits && overlaps(inner, outer);
}
