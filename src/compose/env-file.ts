import { interpolate, type Lookup } from './interpolate.js';
import { ComposeError } from './errors.js';

/**
 * Parses a dotenv file as compose does: `KEY=VALUE`, `export KEY=VALUE`, `#` comments, single
 * quotes literal, double quotes with `\n` `\t` `\"` `\\` escapes, unquoted values trimmed with
 * ` #` comments cut; `${VAR}` in unquoted and double-quoted values is interpolated from earlier
 * keys and then `lookup`. A line `KEY` alone takes KEY from `lookup` (or is left out).
 */
export function parseEnvFile(
  text: string,
  options: { file: string; lookup?: Lookup } = { file: '.env' },
): Record<string, string> {
  const out: Record<string, string> = {};
  const lookup = (name: string): string | undefined => out[name] ?? options.lookup?.(name);
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  for (let n = 0; n < lines.length; n++) {
    let line = (lines[n] as string).trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('export ')) line = line.slice(7).trimStart();
    const eq = line.indexOf('=');
    const key = (eq < 0 ? line : line.slice(0, eq)).trim();
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key))
      throw new ComposeError(
        `failed to read ${options.file}: line ${n + 1}: unexpected character in variable name "${key}"`,
      );
    if (eq < 0) {
      const v = options.lookup?.(key);
      if (v !== undefined) out[key] = v;
      continue;
    }
    let raw = line.slice(eq + 1).trimStart();
    const q = raw[0];
    if (q === "'" || q === '"') {
      // A quoted value may span lines until its closing quote.
      let body = raw.slice(1);
      let close = findClose(body, q);
      while (close < 0 && n + 1 < lines.length) {
        body += `\n${lines[++n] as string}`;
        close = findClose(body, q);
      }
      if (close < 0)
        throw new ComposeError(
          `failed to read ${options.file}: line ${n + 1}: unterminated quoted value`,
        );
      const inner = body.slice(0, close);
      out[key] =
        q === "'"
          ? inner
          : interpolate(
              inner.replace(/\\([nrt"\\$])/g, (_m, c: string) =>
                c === 'n' ? '\n' : c === 'r' ? '\r' : c === 't' ? '\t' : c === '$' ? '$$' : c,
              ),
              { lookup },
            );
      continue;
    }
    const hash = raw.search(/\s#/);
    if (hash >= 0) raw = raw.slice(0, hash);
    out[key] = interpolate(raw.trim(), { lookup });
  }
  return out;
}

function findClose(body: string, q: string): number {
  for (let i = 0; i < body.length; i++) {
    if (body[i] === '\\' && q === '"') {
      i++;
      continue;
    }
    if (body[i] === q) return i;
  }
  return -1;
}
