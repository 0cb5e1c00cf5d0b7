import { summarize, type Summary } from './stats.js';
import type { EngineId, Metric } from './types.js';

export const COLUMNS: { id: EngineId; title: string }[] = [
  { id: 'berth', title: 'berth' },
  { id: 'berth-docker', title: 'berth (docker CLI)' },
  { id: 'docker', title: 'Docker' },
  { id: 'podman', title: 'Podman' },
];

/** One case's outcome as the report keeps it. */
export interface CaseOutcome {
  name: string;
  description: string;
  /** When it ran (cases kept from an earlier run keep theirs). */
  date: string;
  seconds: number;
  metrics: Metric[];
  error?: string;
}

export interface Machine {
  nproc: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  date: string;
}

function fmt(n: number, unit: Metric['unit']): string {
  if (unit === 'count') return String(Math.round(n));
  const digits = Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? 1 : 2;
  return n.toFixed(digits);
}

function cell(s: Summary | undefined, unit: Metric['unit']): string {
  if (!s) return '—';
  if (s.n === 1 || s.min === s.max) return fmt(s.median, unit);
  return `${fmt(s.median, unit)} (${fmt(s.min, unit)}–${fmt(s.max, unit)})`;
}

function ratio(a: Summary | undefined, b: Summary | undefined): string {
  if (!a || !b || b.median === 0) return '—';
  return `${(a.median / b.median).toFixed(2)}×`;
}

/** The rows of the table: case, metric, one cell per engine, and berth/peer ratios. */
export function tableRows(outcomes: CaseOutcome[]): string[][] {
  const head = ['case', 'metric', ...COLUMNS.map((c) => c.title), 'berth/Docker', 'berth/Podman'];
  const rows: string[][] = [head];
  for (const o of outcomes) {
    if (o.error !== undefined && o.metrics.length === 0) {
      rows.push([
        o.name,
        `FAILED: ${o.error.split('\n')[0]!.slice(0, 120)}`,
        '',
        '',
        '',
        '',
        '',
        '',
      ]);
      continue;
    }
    for (const m of o.metrics) {
      const s = Object.fromEntries(COLUMNS.map((c) => [c.id, summarize(m.values[c.id] ?? [])]));
      const berth = s.berth ?? s['berth-docker'];
      rows.push([
        o.name,
        `${m.label} [${m.unit}]${m.note !== undefined ? ` — ${m.note}` : ''}`,
        ...COLUMNS.map((c) => cell(s[c.id], m.unit)),
        ratio(berth, s.docker),
        ratio(berth, s.podman),
      ]);
    }
    if (o.error !== undefined) rows.push([o.name, `FAILED after the rows above: ${o.error}`]);
  }
  return rows;
}

/** A plain aligned table for the terminal. */
export function terminalTable(rows: string[][]): string {
  const width = rows[0]!.length;
  const widths = Array.from({ length: width }, (_, i) =>
    Math.max(...rows.map((r) => (r[i] ?? '').length)),
  );
  return rows
    .map((r) =>
      Array.from({ length: width }, (_, i) => (r[i] ?? '').padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The Markdown report: machine, table, case descriptions. */
export function markdown(outcomes: CaseOutcome[], machine: Machine): string {
  const rows = tableRows(outcomes);
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const lines = [
    '# berth benchmarks: latest run',
    '',
    `${machine.date} · ${machine.nproc} CPUs · ${machine.memoryGiB.toFixed(1)} GiB · Linux ${machine.kernel} · Node ${machine.node}`,
    '',
    'Cells: median (min–max) over the runs. Ratios: berth median / peer median (below 1 is berth ahead).',
    'Where berth has no bin/berth figure, the ratio uses the docker CLI against berthd.',
    '',
    `| ${rows[0]!.map(esc).join(' | ')} |`,
    `|${rows[0]!.map(() => ' --- ').join('|')}|`,
    ...rows.slice(1).map((r) => {
      const full = [...r, ...new Array<string>(Math.max(0, rows[0]!.length - r.length)).fill('')];
      return `| ${full.map(esc).join(' | ')} |`;
    }),
    '',
    '## Cases in this run',
    '',
    ...outcomes.map(
      (o) => `- **${o.name}** (${o.date}, ${o.seconds.toFixed(0)} s): ${o.description}`,
    ),
    '',
  ];
  return lines.join('\n');
}

/** The JSON report: every sample, with summaries. */
export function jsonReport(outcomes: CaseOutcome[], machine: Machine): unknown {
  return {
    machine,
    cases: outcomes.map((o) => ({
      ...o,
      metrics: o.metrics.map((m) => ({
        ...m,
        summary: Object.fromEntries(
          Object.entries(m.values).map(([k, v]) => [k, summarize(v ?? [])]),
        ),
      })),
    })),
  };
}
