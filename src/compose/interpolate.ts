import { ComposeError, TemplateError } from './errors.js';

/** Variables visible to interpolation: the OS environment over the .env file. */
export type Lookup = (name: string) => string | undefined;

export interface InterpolateOptions {
  lookup: Lookup;
  /** Called once per unset variable used without a default (compose warns and uses ""). */
  onUnset?: (name: string) => void;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/**
 * Substitutes `$VAR`, `${VAR}` and the modifier forms `:-` `-` `:?` `?` `:+` `+` as the Compose
 * specification defines them; `$$` is a literal `$`. Defaults, errors and replacements may
 * themselves contain substitutions (nested), which are resolved only when used.
 */
export function interpolate(text: string, options: InterpolateOptions): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    if (ch !== '$') {
      out += ch;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      const end = closingBrace(text, i + 2);
      if (end < 0) throw new TemplateError(text);
      out += substitute(text.slice(i + 2, end), text, options);
      i = end + 1;
      continue;
    }
    const m = NAME.exec(text.slice(i + 1));
    if (m) {
      out += value(m[0], options);
      i += 1 + m[0].length;
      continue;
    }
    // A lone `$` followed by something that is not a name is kept, as compose-go does.
    out += '$';
    i++;
  }
  return out;
}

function closingBrace(text: string, from: number): number {
  let depth = 1;
  for (let j = from; j < text.length; j++) {
    const c = text[j];
    if (c === '$' && text[j + 1] === '$') {
      j++;
      continue;
    }
    if (c === '$' && text[j + 1] === '{') {
      depth++;
      j++;
      continue;
    }
    if (c === '}') {
      depth--;
      if (depth === 0) return j;
    }
  }
  return -1;
}

function value(name: string, options: InterpolateOptions): string {
  const v = options.lookup(name);
  if (v === undefined) {
    options.onUnset?.(name);
    return '';
  }
  return v;
}

function substitute(body: string, whole: string, options: InterpolateOptions): string {
  const m = NAME.exec(body);
  if (!m) throw new TemplateError(whole);
  const name = m[0];
  const rest = body.slice(name.length);
  if (rest === '') return value(name, options);
  const op = /^(:-|:\?|:\+|-|\?|\+)/.exec(rest);
  if (!op) throw new TemplateError(whole);
  const arg = rest.slice((op[1] as string).length);
  const v = options.lookup(name);
  const nested = (): string => interpolate(arg, options);
  switch (op[1]) {
    case ':-':
      return v === undefined || v === '' ? nested() : v;
    case '-':
      return v === undefined ? nested() : v;
    case ':?':
      if (v === undefined || v === '')
        throw new ComposeError(`required variable ${name} is missing a value: ${nested()}`);
      return v;
    case '?':
      if (v === undefined)
        throw new ComposeError(`required variable ${name} is missing a value: ${nested()}`);
      return v;
    case ':+':
      return v === undefined || v === '' ? '' : nested();
    default:
      return v === undefined ? '' : nested();
  }
}

/**
 * Interpolates every string value of a parsed document (keys are left alone, as compose does);
 * `path` names the place in an error.
 */
export function interpolateTree(node: unknown, options: InterpolateOptions, path = ''): unknown {
  if (typeof node === 'string') {
    try {
      return interpolate(node, options);
    } catch (err: unknown) {
      if (err instanceof TemplateError)
        throw new ComposeError(
          `invalid interpolation format for ${path || 'value'}: "${err.template}". You may need to escape any $ with another $.`,
        );
      throw err;
    }
  }
  if (Array.isArray(node)) return node.map((v, i) => interpolateTree(v, options, `${path}.[${i}]`));
  if (node !== null && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      out[k] = interpolateTree(v, options, path === '' ? k : `${path}.${k}`);
    }
    return out;
  }
  return node;
}
