/**
 * Word processing for Dockerfile arguments, as Docker's shell lexer does it: quotes removed,
 * the escape character honoured, and `$VAR`, `${VAR}`, `${VAR:-w}`, `${VAR-w}`, `${VAR:+w}`,
 * `${VAR+w}`, `${VAR:?w}`, `${VAR?w}` substituted from a lookup. Pure functions.
 */

/** Variables visible to a substitution: undefined for unset. */
export type Lookup = (name: string) => string | undefined;

/** A substitution that cannot be done (`${VAR:?msg}` on an unset variable, a bad `${`). */
export class WordError extends Error {}

/** Options of one expansion. */
export interface WordOptions {
  /** The escape character: `\` unless `# escape=` said otherwise. */
  escape: string;
  /** When false, `$` is literal (quotes and escapes are still processed). */
  expand?: boolean;
}

const nameChar = /[A-Za-z0-9_]/;
const nameStart = /[A-Za-z_]/;

class Scanner {
  pos = 0;
  constructor(readonly text: string) {}
  peek(offset = 0): string {
    return this.text[this.pos + offset] ?? '';
  }
  next(): string {
    const c = this.text[this.pos] ?? '';
    this.pos++;
    return c;
  }
  eof(): boolean {
    return this.pos >= this.text.length;
  }
}

/** Expands one word: quotes removed, variables substituted. */
export function expandWord(word: string, lookup: Lookup, options: WordOptions): string {
  const s = new Scanner(word);
  return processUntil(s, lookup, options, '');
}

/**
 * Expands and splits: the result of processing `text` into words at unquoted whitespace, as
 * Docker does for EXPOSE, VOLUME, COPY sources and the like. Empty words are dropped.
 */
export function expandWords(text: string, lookup: Lookup, options: WordOptions): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  const s = new Scanner(text);
  while (!s.eof()) {
    const c = s.peek();
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      s.next();
      if (inWord) words.push(current);
      current = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === "'") {
      s.next();
      current += singleQuoted(s);
    } else if (c === '"') {
      s.next();
      current += doubleQuoted(s, lookup, options);
    } else if (c === options.escape) {
      s.next();
      current += s.eof() ? c : s.next();
    } else if (c === '$' && options.expand !== false) {
      // An unquoted variable's value is split into words too, as Docker's lexer does.
      const value = dollar(s, lookup, options);
      const parts = value.split(/[ \t\n]+/);
      for (const [i, p] of parts.entries()) {
        if (i > 0) {
          if (current !== '') words.push(current);
          current = '';
        }
        current += p;
      }
      if (value === '' && current === '') inWord = false;
    } else {
      current += s.next();
    }
  }
  if (inWord && current !== '') words.push(current);
  return words;
}

function processUntil(s: Scanner, lookup: Lookup, o: WordOptions, stop: string): string {
  let out = '';
  while (!s.eof()) {
    const c = s.peek();
    if (stop !== '' && c === stop) return out;
    if (c === "'") {
      s.next();
      out += singleQuoted(s);
    } else if (c === '"') {
      s.next();
      out += doubleQuoted(s, lookup, o);
    } else if (c === o.escape) {
      s.next();
      out += s.eof() ? c : s.next();
    } else if (c === '$' && o.expand !== false) {
      out += dollar(s, lookup, o);
    } else {
      out += s.next();
    }
  }
  return out;
}

function singleQuoted(s: Scanner): string {
  let out = '';
  while (!s.eof()) {
    const c = s.next();
    if (c === "'") return out;
    out += c;
  }
  throw new WordError('unexpected end of statement while looking for matching single-quote');
}

function doubleQuoted(s: Scanner, lookup: Lookup, o: WordOptions): string {
  let out = '';
  while (!s.eof()) {
    const c = s.peek();
    if (c === '"') {
      s.next();
      return out;
    }
    if (c === '$' && o.expand !== false) {
      out += dollar(s, lookup, o);
      continue;
    }
    s.next();
    if (c === o.escape) {
      const n = s.peek();
      if (n === '"' || n === '$' || n === o.escape) {
        out += s.next();
        continue;
      }
    }
    out += c;
  }
  throw new WordError('unexpected end of statement while looking for matching double-quote');
}

/** At a `$`: the substitution's value, or a literal `$`. */
function dollar(s: Scanner, lookup: Lookup, o: WordOptions): string {
  s.next();
  const c = s.peek();
  if (c === '{') {
    s.next();
    return braced(s, lookup, o);
  }
  if (!nameStart.test(c) && !/[0-9]/.test(c)) return '$';
  let name = '';
  while (!s.eof() && nameChar.test(s.peek())) name += s.next();
  return lookup(name) ?? '';
}

function braced(s: Scanner, lookup: Lookup, o: WordOptions): string {
  let name = '';
  while (!s.eof() && nameChar.test(s.peek())) name += s.next();
  if (name === '') throw new WordError(`bad substitution: missing variable name in \${}`);
  const c = s.peek();
  if (c === '}') {
    s.next();
    return lookup(name) ?? '';
  }
  let colon = false;
  let op = s.next();
  if (op === ':') {
    colon = true;
    op = s.next();
  }
  if (!['-', '+', '?'].includes(op) || (colon && op === '')) {
    throw new WordError(`unsupported modifier (${colon ? ':' : ''}${op}) in substitution`);
  }
  const word = processUntil(s, lookup, o, '}');
  if (s.next() !== '}') throw new WordError(`syntax error: missing '}'`);
  const value = lookup(name);
  const isSet = colon ? value !== undefined && value !== '' : value !== undefined;
  switch (op) {
    case '-':
      return isSet ? (value ?? '') : word;
    case '+':
      return isSet ? word : '';
    default:
      if (!isSet)
        throw new WordError(`${name}: ${word === '' ? 'is not allowed to be unset' : word}`);
      return value ?? '';
  }
}

/**
 * Splits `text` at unquoted whitespace keeping quotes and escapes in the words (Docker's
 * parseWords, used for `ENV`/`LABEL` name=value lists).
 */
export function splitRawWords(text: string, escape: string): string[] {
  const words: string[] = [];
  let word = '';
  let quote = '';
  let escaped = false;
  for (const c of text) {
    if (escaped) {
      word += c;
      escaped = false;
      continue;
    }
    if (quote === '' && /\s/.test(c)) {
      if (word !== '') words.push(word);
      word = '';
      continue;
    }
    if (c === escape && quote !== "'") escaped = true;
    else if (quote === '' && (c === '"' || c === "'")) quote = c;
    else if (c === quote) quote = '';
    word += c;
  }
  if (word !== '') words.push(word);
  return words;
}
