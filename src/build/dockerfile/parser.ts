/**
 * The Dockerfile's first pass: parser directives, comments, line continuations and heredocs,
 * giving one {@link RawInstruction} per instruction with its line span. Pure; no expansion.
 */

/** A syntax error, with the 1-based line and column it was found at. */
export class DockerfileSyntaxError extends Error {
  constructor(
    readonly detail: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`dockerfile parse error line ${line}: ${detail} (column ${column})`);
  }
}

export interface Heredoc {
  /** The delimiter word, unquoted. */
  name: string;
  /** The body: every line up to the delimiter, each ending in `\n` (tabs gone with `<<-`). */
  content: string;
  /** False when the delimiter was quoted: the body is taken literally. */
  expand: boolean;
  /** `<<-`: leading tabs were stripped. */
  chomp: boolean;
}

export interface RawInstruction {
  /** Upper-case keyword: `RUN`, `COPY`. */
  keyword: string;
  /** The keyword as written. */
  written: string;
  /** 1-based first and last line (heredoc bodies included). */
  startLine: number;
  endLine: number;
  /** `--name=value` flags in front of the arguments, as written (without the leading dashes). */
  flags: string[];
  /** Everything after the keyword and the flags, continuations joined. */
  args: string;
  /** Heredocs the line opened, in order. */
  heredocs: Heredoc[];
  /** The instruction line as Docker shows it in `Step n/m :` (continuations joined). */
  original: string;
  /** 1-based column of the keyword. */
  column: number;
}

export interface ParsedFile {
  /** Parser directives by lower-case name: `syntax`, `escape`, `check`. */
  directives: Record<string, string>;
  escape: string;
  instructions: RawInstruction[];
}

const directiveRe = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const knownDirectives = new Set(['syntax', 'escape', 'check']);
const heredocKeywords = new Set(['RUN', 'COPY', 'ADD']);
/** A heredoc opener as a whole word: `<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'`. */
const heredocRe = /^<<(-?)(["']?)([A-Za-z0-9_.-]+)\2$/;

/** Parses the text of a Dockerfile; DockerfileSyntaxError on malformed input. */
export function parseDockerfileText(text: string): ParsedFile {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  if (lines.length > 0 && lines[0]?.startsWith('\uFEFF')) lines[0] = lines[0].slice(1);
  const directives: Record<string, string> = {};
  let i = 0;
  for (; i < lines.length; i++) {
    const m = directiveRe.exec(lines[i] ?? '');
    if (!m) break;
    const name = (m[1] ?? '').toLowerCase();
    if (!knownDirectives.has(name)) break;
    if (name in directives) {
      throw new DockerfileSyntaxError(`only one ${name} parser directive can be used`, i + 1, 1);
    }
    directives[name] = m[2] ?? '';
  }
  const escape = directives.escape ?? '\\';
  if (escape !== '\\' && escape !== '`') {
    throw new DockerfileSyntaxError(
      `invalid escape token '${escape}' does not match ` + '[\\\\`]',
      1,
      1,
    );
  }
  const continuation = new RegExp(`${escape === '\\' ? '\\\\' : '`'}[ \\t]*$`);
  const instructions: RawInstruction[] = [];
  for (; i < lines.length; i++) {
    const first = lines[i] ?? '';
    const trimmed = first.replace(/^[ \t]+/, '');
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const startLine = i + 1;
    const column = first.length - trimmed.length + 1;
    let line = trimmed;
    let open = continuation.test(line);
    if (open) line = line.replace(continuation, '');
    while (open && i + 1 < lines.length) {
      i++;
      const next = lines[i] ?? '';
      if (/^[ \t]*#/.test(next)) continue;
      if (next.trim() === '') continue;
      open = continuation.test(next);
      line += open ? next.replace(continuation, '') : next;
    }
    const m = /^(\S+)[ \t]*([\s\S]*)$/.exec(line.trim());
    const written = m?.[1] ?? '';
    const keyword = written.toUpperCase();
    let rest = (m?.[2] ?? '').trim();
    const flags: string[] = [];
    if (keyword !== 'ONBUILD') {
      for (;;) {
        const f = /^--([^\s]*)(?:\s+|$)/.exec(rest);
        if (!f || f[1] === '') break;
        flags.push(f[1] ?? '');
        rest = rest.slice(f[0].length);
      }
    }
    const heredocs: Heredoc[] = [];
    if (heredocKeywords.has(keyword) && rest.includes('<<') && !rest.trimStart().startsWith('[')) {
      for (const word of rest.split(/\s+/)) {
        // A redirection target glued to the opener (`<<EOF>file`) is not a heredoc start.
        const h = heredocRe.exec(word.replace(/[>|;&].*$/, ''));
        if (!h) continue;
        const chomp = h[1] === '-';
        const name = h[3] ?? '';
        let content = '';
        let closed = false;
        while (i + 1 < lines.length) {
          i++;
          const raw = lines[i] ?? '';
          const body = chomp ? raw.replace(/^\t+/, '') : raw;
          if (body === name) {
            closed = true;
            break;
          }
          content += `${body}\n`;
        }
        if (!closed) {
          throw new DockerfileSyntaxError(`unterminated heredoc ${name}`, startLine, column);
        }
        heredocs.push({ name, content, expand: h[2] === '', chomp });
      }
    }
    instructions.push({
      keyword,
      written,
      startLine,
      endLine: i + 1,
      flags,
      args: rest,
      heredocs,
      original: line.trim(),
      column,
    });
  }
  return { directives, escape, instructions };
}

/**
 * Parses a JSON exec form (`["a", "b"]`): the strings, or undefined when `text` is not a JSON
 * array of strings (then it is shell form, as Docker treats it).
 */
export function parseJsonForm(text: string): string[] | undefined {
  const t = text.trim();
  if (!t.startsWith('[') || !t.endsWith(']')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(t);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) {
    return undefined;
  }
  return value;
}
