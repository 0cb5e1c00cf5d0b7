import type { Writable } from 'node:stream';

/**
 * Compose's resource progress: on a terminal one line per resource redrawn in place
 * (` ✔ Container p-web-1  Started`), otherwise one plain line per event
 * (` Container p-web-1  Started`), both on stderr as docker compose writes them.
 */
export interface Progress {
  /** `kind` is Container/Network/Volume/Image; `status` the word compose prints. */
  event(kind: string, name: string, status: string, state?: 'working' | 'done' | 'error'): void;
  /** Stops redrawing (before other output such as logs). */
  done(): void;
}

export function newProgress(
  out: Writable & { isTTY?: boolean },
  options: { title?: string } = {},
): Progress {
  if (!out.isTTY) {
    return {
      event(kind, name, status) {
        out.write(` ${kind} ${name}  ${status}\n`);
      },
      done() {},
    };
  }
  const rows: {
    key: string;
    kind: string;
    name: string;
    status: string;
    state: string;
    start: number;
    end?: number;
  }[] = [];
  let drawn = 0;
  let finished = false;
  const spin = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let tick = 0;
  const draw = (): void => {
    if (drawn > 0) out.write(`\x1b[${drawn}A`);
    const doneCount = rows.filter((r) => r.state !== 'working').length;
    const lines = [`[+] ${options.title ?? 'Running'} ${doneCount}/${rows.length}`];
    const width = Math.max(0, ...rows.map((r) => `${r.kind} ${r.name}`.length));
    for (const r of rows) {
      const icon =
        r.state === 'done'
          ? '\x1b[32m✔\x1b[0m'
          : r.state === 'error'
            ? '\x1b[31m✘\x1b[0m'
            : spin[tick % spin.length];
      const secs = (((r.end ?? Date.now()) - r.start) / 1000).toFixed(1);
      lines.push(
        ` ${icon} ${`${r.kind} ${r.name}`.padEnd(width)}  ${r.status.padEnd(10)} ${secs}s`,
      );
    }
    out.write(lines.map((l) => `\x1b[2K${l}\n`).join(''));
    drawn = lines.length;
  };
  const timer = setInterval(() => {
    tick++;
    if (rows.some((r) => r.state === 'working')) draw();
  }, 100);
  timer.unref();
  return {
    event(kind, name, status, state) {
      if (finished) return;
      const key = `${kind}/${name}`;
      let row = rows.find((r) => r.key === key);
      const st = state ?? (/ing$/.test(status) ? 'working' : 'done');
      if (!row) {
        row = { key, kind, name, status, state: st, start: Date.now() };
        rows.push(row);
      }
      row.status = status;
      row.state = st;
      if (st !== 'working') row.end = Date.now();
      else delete row.end;
      draw();
    },
    done() {
      if (finished) return;
      clearInterval(timer);
      if (rows.length > 0) draw();
      finished = true;
    },
  };
}
