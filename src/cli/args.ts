/** Docker-style flag parsing: long `--name=x`/`--name x`, short `-n x`/`-nx`, combined `-dit`. */

export type FlagKind = 'bool' | 'string' | 'list' | 'number';

export interface FlagSpec {
  long: string;
  short?: string;
  kind: FlagKind;
  /** Hidden from help. */
  hidden?: boolean;
  description?: string;
}

export type FlagValue = boolean | string | string[] | number;

export class Flags {
  constructor(private readonly values: Map<string, FlagValue>) {}
  bool(name: string): boolean {
    return this.values.get(name) === true;
  }
  has(name: string): boolean {
    return this.values.has(name);
  }
  string(name: string): string | undefined {
    const v = this.values.get(name);
    return typeof v === 'string' ? v : undefined;
  }
  list(name: string): string[] {
    const v = this.values.get(name);
    return Array.isArray(v) ? v : [];
  }
  number(name: string): number | undefined {
    const v = this.values.get(name);
    return typeof v === 'number' ? v : undefined;
  }
}

/** A wrong flag or argument: exit 125 with "See 'berth <cmd> --help'." */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface Parsed {
  flags: Flags;
  args: string[];
}

const TRUE = new Set(['true', '1', 't', 'T', 'TRUE', 'True']);
const FALSE = new Set(['false', '0', 'f', 'F', 'FALSE', 'False']);

/**
 * Parses argv. With `interspersed: false` (run, create, exec) flags stop at the first
 * positional, so `run busybox ls -l` leaves `-l` to ls.
 */
export function parseArgs(
  argv: string[],
  specs: FlagSpec[],
  options: { interspersed?: boolean } = {},
): Parsed {
  const interspersed = options.interspersed ?? true;
  const byLong = new Map(specs.map((s) => [s.long, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short as string, s]));
  const values = new Map<string, FlagValue>();
  const args: string[] = [];

  const set = (spec: FlagSpec, raw: string | undefined, display: string): void => {
    switch (spec.kind) {
      case 'bool': {
        if (raw === undefined || TRUE.has(raw)) values.set(spec.long, true);
        else if (FALSE.has(raw)) values.set(spec.long, false);
        else
          throw new UsageError(
            `invalid argument "${raw}" for "${display}" flag: strconv.ParseBool: parsing "${raw}": invalid syntax`,
          );
        return;
      }
      case 'string':
        values.set(spec.long, raw ?? '');
        return;
      case 'list': {
        const prev = values.get(spec.long);
        values.set(spec.long, [...(Array.isArray(prev) ? prev : []), raw ?? '']);
        return;
      }
      case 'number': {
        const n = Number(raw);
        if (raw === undefined || raw.trim() === '' || !Number.isFinite(n)) {
          throw new UsageError(
            `invalid argument "${raw ?? ''}" for "${display}" flag: strconv.ParseInt: parsing "${raw ?? ''}": invalid syntax`,
          );
        }
        values.set(spec.long, n);
        return;
      }
    }
  };

  let i = 0;
  while (i < argv.length) {
    const a = argv[i] as string;
    i++;
    if (a === '--') {
      args.push(...argv.slice(i));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const spec = byLong.get(name);
      if (!spec) throw new UsageError(`unknown flag: --${name}`);
      if (eq >= 0) set(spec, a.slice(eq + 1), `--${name}`);
      else if (spec.kind === 'bool') set(spec, undefined, `--${name}`);
      else {
        if (i >= argv.length) throw new UsageError(`flag needs an argument: --${name}`);
        set(spec, argv[i++] as string, `--${name}`);
      }
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      let j = 1;
      while (j < a.length) {
        const ch = a[j] as string;
        const spec = byShort.get(ch);
        if (!spec) throw new UsageError(`unknown shorthand flag: '${ch}' in ${a}`);
        const display = `-${ch}, --${spec.long}`;
        j++;
        if (spec.kind === 'bool') {
          if (a[j] === '=') {
            set(spec, a.slice(j + 1), display);
            j = a.length;
          } else set(spec, undefined, display);
          continue;
        }
        let rest = a.slice(j);
        if (rest.startsWith('=')) rest = rest.slice(1);
        if (rest !== '') set(spec, rest, display);
        else {
          if (i >= argv.length) throw new UsageError(`flag needs an argument: '${ch}' in -${ch}`);
          set(spec, argv[i++] as string, display);
        }
        j = a.length;
      }
      continue;
    }
    args.push(a);
    if (!interspersed) {
      args.push(...argv.slice(i));
      break;
    }
  }
  return { flags: new Flags(values), args };
}

/** The flag lines of `--help`. */
export function flagHelp(specs: FlagSpec[]): string {
  const rows = specs
    .filter((s) => !s.hidden)
    .map((s) => {
      const left = `${s.short ? `-${s.short}, ` : '    '}--${s.long}${s.kind === 'bool' ? '' : s.kind === 'list' ? ' list' : s.kind === 'number' ? ' int' : ' string'}`;
      return [left, s.description ?? ''] as const;
    });
  const width = Math.max(0, ...rows.map(([l]) => l.length));
  return rows.map(([l, d]) => `  ${l.padEnd(width)}   ${d}`.trimEnd()).join('\n');
}
