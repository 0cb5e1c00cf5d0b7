import type { EngineEvent } from '../../spec/engine.js';
import type { Command } from '../command.js';
import { parseTemplate } from '../format.js';
import { normaliseFormat, parseFilters } from '../filters.js';
import { toTimestamp } from './logs.js';

/** Go's RFC3339Nano-like layout docker events prints, in UTC. */
export function eventTime(timeNano: number): string {
  const ms = Math.floor(timeNano / 1e6);
  const iso = new Date(ms).toISOString().slice(0, 19);
  const nanos = String(timeNano % 1e9).padStart(9, '0');
  return `${iso}.${nanos}Z`;
}

/** One line as `docker events` prints it by default. */
export function eventLine(ev: EngineEvent): string {
  const attrs = Object.entries(ev.Actor.Attributes ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return `${eventTime(ev.timeNano)} ${ev.Type} ${ev.Action} ${ev.Actor.ID}${attrs ? ` (${attrs})` : ''}`;
}

export const command: Command = {
  usage: '[OPTIONS]',
  description: 'Get real time events from the server',
  maxArgs: 0,
  flags: [
    {
      long: 'filter',
      short: 'f',
      kind: 'list',
      description: 'Filter output based on conditions provided',
    },
    { long: 'format', kind: 'string', description: 'Format output using a custom template' },
    { long: 'since', kind: 'string', description: 'Show all events created since timestamp' },
    { long: 'until', kind: 'string', description: 'Stream events until this timestamp' },
  ],
  async run(ctx, { flags }) {
    const format = flags.string('format');
    const template = format !== undefined ? parseTemplate(normaliseFormat(format, '')) : undefined;
    const since = toTimestamp(flags.string('since'));
    const until = toTimestamp(flags.string('until'));
    for await (const ev of ctx.client().events({
      filters: parseFilters(flags.list('filter')),
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
    })) {
      ctx.stdout.write(`${template ? template.execute(ev) : eventLine(ev)}\n`);
    }
    return 0;
  },
};
