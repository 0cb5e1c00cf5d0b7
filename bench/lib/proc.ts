import { readFileSync, readdirSync } from 'node:fs';

/** One process as /proc shows it. */
export interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  cmdline: string;
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err: unknown) {
    // Processes exit between listing and reading.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH' || code === 'EACCES') return undefined;
    throw err;
  }
}

/** Every process on the host now. */
export function processTable(): Map<number, ProcInfo> {
  const table = new Map<number, ProcInfo>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readOr(`/proc/${entry}/stat`);
    const cmdline = readOr(`/proc/${entry}/cmdline`);
    if (stat === undefined || cmdline === undefined) continue;
    // comm is in parentheses and may contain spaces: fields after the last ')'.
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    table.set(Number(entry), {
      pid: Number(entry),
      ppid: Number(fields[1]),
      comm: stat.slice(stat.indexOf('(') + 1, close),
      cmdline: cmdline.replace(/\0/g, ' ').trim(),
    });
  }
  return table;
}

/** Resident and proportional set size of one process, in KiB (0 once it is gone). */
export function memoryOf(pid: number): { rssKiB: number; pssKiB: number } {
  const status = readOr(`/proc/${pid}/status`) ?? '';
  const rollup = readOr(`/proc/${pid}/smaps_rollup`) ?? '';
  const rss = /^VmRSS:\s+(\d+)/m.exec(status);
  const pss = /^Pss:\s+(\d+)/m.exec(rollup);
  return { rssKiB: rss ? Number(rss[1]) : 0, pssKiB: pss ? Number(pss[1]) : 0 };
}

/** Sum of memoryOf over pids. */
export function memoryOfAll(pids: Iterable<number>): { rssKiB: number; pssKiB: number } {
  let rssKiB = 0;
  let pssKiB = 0;
  for (const pid of pids) {
    const m = memoryOf(pid);
    rssKiB += m.rssKiB;
    pssKiB += m.pssKiB;
  }
  return { rssKiB, pssKiB };
}

/**
 * The engine's own per-container processes: those whose command line names one of the ids
 * (conmon -c <id>, containerd-shim -id <id>), without the container's processes below them.
 */
export function shimProcesses(table: Map<number, ProcInfo>, ids: string[]): Set<number> {
  const roots = new Set<number>();
  const idSet = new Set(ids);
  for (const p of table.values()) {
    for (const word of p.cmdline.split(' ')) {
      if (idSet.has(word)) {
        roots.add(p.pid);
        break;
      }
    }
  }
  return roots;
}

/** The processes that serve the given containers: their shims and all their descendants. */
export function containerProcesses(table: Map<number, ProcInfo>, ids: string[]): Set<number> {
  const roots = shimProcesses(table, ids);
  const children = new Map<number, number[]>();
  for (const p of table.values()) {
    const list = children.get(p.ppid) ?? [];
    list.push(p.pid);
    children.set(p.ppid, list);
  }
  const out = new Set<number>();
  const stack = [...roots];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    if (out.has(pid)) continue;
    out.add(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}
