/**
 * A subset of Go's text/template, as `--format` uses it: `{{.A.B}}`, `{{json .}}`,
 * `{{index .M "k"}}`, `{{lower .X}}`, `{{upper .X}}`, `{{join .L ","}}`, `{{len .L}}`,
 * pipes (`{{.X | json}}`), `{{range .L}}...{{end}}`, `{{if .X}}...{{else}}...{{end}}`, and a
 * `table ` prefix that adds a header row; tabs then align as docker's tabwriter does.
 */

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipeline: string }
  | { kind: 'range'; pipeline: string; body: Node[]; elseBody: Node[] }
  | { kind: 'if'; pipeline: string; body: Node[]; elseBody: Node[] }
  | { kind: 'with'; pipeline: string; body: Node[]; elseBody: Node[] };

export class TemplateError extends Error {
  override name = 'TemplateError';
}

function tokenize(src: string): ({ text: string } | { action: string })[] {
  const out: ({ text: string } | { action: string })[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      out.push({ text: src.slice(i) });
      break;
    }
    let text = src.slice(i, open);
    const close = src.indexOf('}}', open);
    if (close < 0) throw new TemplateError(`template: unclosed action`);
    let action = src.slice(open + 2, close);
    if (action.startsWith('-')) {
      text = text.trimEnd();
      action = action.slice(1);
    }
    let next = close + 2;
    if (action.endsWith('-')) {
      action = action.slice(0, -1);
      while (next < src.length && /\s/.test(src[next] as string)) next++;
    }
    if (text !== '') out.push({ text });
    out.push({ action: action.trim() });
    i = next;
  }
  return out;
}

function parseNodes(
  tokens: ({ text: string } | { action: string })[],
  pos: { i: number },
  nested: boolean,
): { nodes: Node[]; stop: 'end' | 'else' | 'eof' } {
  const nodes: Node[] = [];
  while (pos.i < tokens.length) {
    const t = tokens[pos.i++] as { text: string } | { action: string };
    if ('text' in t) {
      nodes.push({ kind: 'text', text: t.text });
      continue;
    }
    const a = t.action;
    if (a === 'end') {
      if (!nested) throw new TemplateError('template: unexpected {{end}}');
      return { nodes, stop: 'end' };
    }
    if (a === 'else') {
      if (!nested) throw new TemplateError('template: unexpected {{else}}');
      return { nodes, stop: 'else' };
    }
    const block = /^(range|if|with)\s+(.*)$/.exec(a);
    if (block) {
      const body = parseNodes(tokens, pos, true);
      let elseBody: Node[] = [];
      if (body.stop === 'else') elseBody = parseNodes(tokens, pos, true).nodes;
      else if (body.stop === 'eof') throw new TemplateError('template: unexpected EOF');
      nodes.push({
        kind: block[1] as 'range' | 'if' | 'with',
        pipeline: block[2] as string,
        body: body.nodes,
        elseBody,
      });
      continue;
    }
    if (a.startsWith('/*')) continue;
    nodes.push({ kind: 'action', pipeline: a });
  }
  return { nodes, stop: 'eof' };
}

function splitWords(s: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"' || c === '`') {
      let j = i + 1;
      while (j < s.length && s[j] !== c) j += s[j] === '\\' && c === '"' ? 2 : 1;
      words.push(s.slice(i, j + 1));
      i = j + 1;
      continue;
    }
    if (c === '(') {
      let depth = 0;
      let j = i;
      for (; j < s.length; j++) {
        if (s[j] === '(') depth++;
        else if (s[j] === ')' && --depth === 0) break;
      }
      words.push(s.slice(i, j + 1));
      i = j + 1;
      continue;
    }
    let j = i;
    while (j < s.length && !/\s/.test(s[j] as string)) j++;
    words.push(s.slice(i, j));
    i = j;
  }
  return words;
}

function splitPipes(s: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let quote = '';
  let depth = 0;
  for (const c of s) {
    if (quote) {
      if (c === quote) quote = '';
      cur += c;
    } else if (c === '"' || c === '`') {
      quote = c;
      cur += c;
    } else if (c === '(') {
      depth++;
      cur += c;
    } else if (c === ')') {
      depth--;
      cur += c;
    } else if (c === '|' && depth === 0) {
      parts.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  parts.push(cur.trim());
  return parts;
}

function lookup(value: unknown, path: string): unknown {
  let v = value;
  for (const key of path.split('.').filter((k) => k !== '')) {
    if (v === null || v === undefined) return undefined;
    if (typeof v !== 'object')
      throw new TemplateError(`template: can't evaluate field ${key} in type ${typeof v}`);
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** How Go prints a value with {{.}}: maps as map[k:v], lists as [a b], nil as <no value>. */
export function goString(v: unknown): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map((x) => goString(x)).join(' ')}]`;
  const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  return `map[${entries.map(([k, x]) => `${k}:${goString(x)}`).join(' ')}]`;
}

function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

type Fn = (...args: unknown[]) => unknown;

const FUNCS: Record<string, Fn> = {
  json: (v) => JSON.stringify(v === undefined ? null : v),
  lower: (v) => goString(v).toLowerCase(),
  upper: (v) => goString(v).toUpperCase(),
  title: (v) => goString(v).replace(/\b\w/g, (c) => c.toUpperCase()),
  join: (list, sep) =>
    Array.isArray(list) ? list.map((x) => goString(x)).join(String(sep)) : goString(list),
  split: (s, sep) => goString(s).split(String(sep)),
  len: (v) =>
    Array.isArray(v)
      ? v.length
      : typeof v === 'string'
        ? v.length
        : v && typeof v === 'object'
          ? Object.keys(v).length
          : 0,
  index: (v, ...keys) => {
    let cur = v;
    for (const k of keys) {
      if (cur === null || cur === undefined) return undefined;
      cur = (cur as Record<string, unknown>)[String(k)];
    }
    return cur;
  },
  println: (...xs) => xs.map((x) => goString(x)).join(' ') + '\n',
  print: (...xs) => xs.map((x) => goString(x)).join(''),
  printf: (fmt, ...xs) => {
    let i = 0;
    return String(fmt).replace(/%([-\d.]*)([svdqt%])/g, (_m, width: string, verb: string) => {
      if (verb === '%') return '%';
      const x = xs[i++];
      let s = verb === 'q' ? JSON.stringify(goString(x)) : goString(x);
      const w = Number.parseInt(width, 10);
      if (Number.isFinite(w)) s = w < 0 ? s.padEnd(-w) : s.padStart(w);
      return s;
    });
  },
  not: (v) => !truthy(v),
  eq: (a, ...bs) => bs.some((b) => a === b),
  ne: (a, b) => a !== b,
  pad: (v, l, r) => ' '.repeat(Number(l)) + goString(v) + ' '.repeat(Number(r)),
  truncate: (v, n) => [...goString(v)].slice(0, Number(n)).join(''),
};

function evalArg(word: string, dot: unknown): unknown {
  if (word.startsWith('"')) return JSON.parse(word) as string;
  if (word.startsWith('`')) return word.slice(1, -1);
  if (word.startsWith('(')) return evalPipeline(word.slice(1, -1), dot);
  if (word === '.') return dot;
  if (word.startsWith('.')) return lookup(dot, word.slice(1));
  if (/^-?\d+(\.\d+)?$/.test(word)) return Number(word);
  if (word === 'true') return true;
  if (word === 'false') return false;
  if (word === 'nil') return null;
  const fn = FUNCS[word];
  if (fn) return fn();
  throw new TemplateError(`template: function "${word}" not defined`);
}

function evalPipeline(pipeline: string, dot: unknown): unknown {
  let value: unknown;
  let first = true;
  for (const stage of splitPipes(pipeline)) {
    const words = splitWords(stage);
    const head = words[0];
    if (head === undefined) throw new TemplateError('template: missing value for command');
    const fn = FUNCS[head];
    if (fn) {
      const args = words.slice(1).map((w) => evalArg(w, dot));
      if (!first) args.push(value);
      value = fn(...args);
    } else {
      if (words.length > 1)
        throw new TemplateError(`template: can't give argument to non-function ${head}`);
      value = evalArg(head, dot);
    }
    first = false;
  }
  return value;
}

function render(nodes: Node[], dot: unknown): string {
  let out = '';
  for (const n of nodes) {
    if (n.kind === 'text') out += n.text;
    else if (n.kind === 'action') out += goString(evalPipeline(n.pipeline, dot));
    else if (n.kind === 'if')
      out += truthy(evalPipeline(n.pipeline, dot)) ? render(n.body, dot) : render(n.elseBody, dot);
    else if (n.kind === 'with') {
      const v = evalPipeline(n.pipeline, dot);
      out += truthy(v) ? render(n.body, v) : render(n.elseBody, dot);
    } else {
      const v = evalPipeline(n.pipeline, dot);
      const items = Array.isArray(v) ? v : v && typeof v === 'object' ? Object.values(v) : [];
      if (items.length === 0) out += render(n.elseBody, dot);
      for (const item of items) out += render(n.body, item);
    }
  }
  return out;
}

export interface Template {
  /** True for a `table ...` format (header row, aligned columns). */
  table: boolean;
  execute(dot: unknown): string;
}

/** Parses a --format string; `\t` and `\n` escapes become tab and newline, as docker does. */
export function parseTemplate(format: string): Template {
  let src = format;
  let table = false;
  if (src.startsWith('table')) {
    table = true;
    src = src.slice(5).trimStart();
  }
  src = src.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const { nodes } = parseNodes(tokenize(src), { i: 0 }, false);
  return { table, execute: (dot) => render(nodes, dot) };
}

/**
 * Aligns tab-separated cells as Go's tabwriter with minwidth 10, tabwidth 1, padding 3,
 * padchar ' ' (docker's table writer). The last cell of a line is not padded.
 */
export function tabwrite(
  text: string,
  options: { minWidth?: number; padding?: number } = {},
): string {
  const minWidth = options.minWidth ?? 10;
  const padding = options.padding ?? 3;
  const hadNewline = text.endsWith('\n');
  const lines = (hadNewline ? text.slice(0, -1) : text).split('\n').map((l) => l.split('\t'));
  const width = (s: string): number => [...s].length;
  const out: string[] = [];
  // Go's tabwriter aligns a column over each run of consecutive lines that have it.
  const widths: number[][] = lines.map(() => []);
  const maxCols = Math.max(0, ...lines.map((l) => l.length - 1));
  for (let col = 0; col < maxCols; col++) {
    let start = 0;
    while (start < lines.length) {
      if ((lines[start] as string[]).length - 1 <= col) {
        start++;
        continue;
      }
      let end = start;
      let w = minWidth;
      while (end < lines.length && (lines[end] as string[]).length - 1 > col) {
        w = Math.max(w, width((lines[end] as string[])[col] as string) + padding);
        end++;
      }
      for (let k = start; k < end; k++) (widths[k] as number[])[col] = w;
      start = end;
    }
  }
  lines.forEach((cells, li) => {
    let line = '';
    cells.forEach((cell, ci) => {
      if (ci < cells.length - 1)
        line +=
          cell + ' '.repeat(Math.max(0, ((widths[li] as number[])[ci] as number) - width(cell)));
      else line += cell;
    });
    out.push(line);
  });
  return out.join('\n') + (hadNewline ? '\n' : '');
}

/**
 * Renders rows with a format: `table` formats get a header row (each field named by
 * `headers`) and alignment; plain ones print one rendered line per row.
 */
export function renderRows(
  format: string,
  rows: unknown[],
  headers: Record<string, string>,
): string {
  const t = parseTemplate(format);
  if (!t.table) return rows.map((r) => t.execute(r) + '\n').join('');
  const headerDot = new Proxy(
    {},
    {
      get: (_t, key) => (typeof key === 'string' ? (headers[key] ?? key.toUpperCase()) : undefined),
    },
  );
  let text = '';
  try {
    text += t.execute(headerDot) + '\n';
  } catch {
    text += '\n';
  }
  for (const r of rows) text += t.execute(r) + '\n';
  return tabwrite(text);
}
