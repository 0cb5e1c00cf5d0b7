import type { EngineEvent } from '../spec/engine.js';
import { InvalidArgumentError } from '../errors/index.js';
import type { Router } from './router.js';
import type { Services } from './server.js';
import { qFilters, qTime } from './params.js';
import { jsonLine, writeOut } from './streams.js';

const KNOWN_FILTERS = new Set([
  'type',
  'container',
  'image',
  'event',
  'label',
  'volume',
  'network',
  'daemon',
  'scope',
  'plugin',
  'node',
  'service',
  'secret',
  'config',
]);

function anyOf(wanted: string[] | undefined, ...values: (string | undefined)[]): boolean {
  if (!wanted || wanted.length === 0) return true;
  return wanted.some((w) => values.some((v) => v !== undefined && v !== '' && v === w));
}

/** Whether an event passes `/events` filters, as dockerd's events filter matches them. */
export function eventMatches(ev: EngineEvent, filters: Record<string, string[]>): boolean {
  const attrs = ev.Actor.Attributes;
  if (!anyOf(filters.type, ev.Type)) return false;
  const action = ev.Action;
  const actionBase = action.includes(':') ? action.slice(0, action.indexOf(':')) : action;
  if (!anyOf(filters.event, action, actionBase)) return false;
  if (filters.container?.length) {
    if (ev.Type !== 'container') return false;
    const id = ev.Actor.ID;
    const ok = filters.container.some(
      (w) => w === attrs.name || (w.length > 0 && id.startsWith(w)),
    );
    if (!ok) return false;
  }
  if (filters.image?.length) {
    const image = ev.Type === 'image' ? ev.Actor.ID : attrs.image;
    const names = [image, attrs.name, ev.Type === 'image' ? attrs.name : undefined];
    const ok = filters.image.some((w) =>
      names.some(
        (n) => n !== undefined && (n === w || n === `${w}:latest` || n.split(':')[0] === w),
      ),
    );
    if (!ok) return false;
  }
  if (filters.label?.length) {
    const ok = filters.label.every((l) => {
      const eq = l.indexOf('=');
      if (eq < 0) return l in attrs;
      return attrs[l.slice(0, eq)] === l.slice(eq + 1);
    });
    if (!ok) return false;
  }
  if (!anyOf(filters.scope, ev.scope)) return false;
  for (const kind of ['volume', 'network', 'daemon', 'plugin'] as const) {
    if (filters[kind]?.length) {
      if (ev.Type !== kind) return false;
      if (!anyOf(filters[kind], ev.Actor.ID, attrs.name)) return false;
    }
  }
  return true;
}

function inWindow(ev: EngineEvent, since?: number, until?: number): boolean {
  const t = ev.timeNano / 1e9;
  if (since !== undefined && t < since) return false;
  if (until !== undefined && t > until) return false;
  return true;
}

export function eventRoutes(router: Router, services: Services): void {
  router.add('GET', '/events', async (ex) => {
    const filters = qFilters(ex);
    for (const key of Object.keys(filters)) {
      if (!KNOWN_FILTERS.has(key)) {
        throw new InvalidArgumentError(`invalid filter '${key}'`);
      }
    }
    const since = qTime(ex, 'since');
    const until = qTime(ex, 'until');
    const now = Date.now() / 1000;
    // Subscribe before reading history, so nothing falls between the two.
    const live = until !== undefined && until <= now ? undefined : services.events.subscribe();
    ex.stream(200, { 'Content-Type': 'application/json' });
    let lastNano = 0;
    if (since !== undefined) {
      for (const ev of services.events.history(since, until)) {
        if (!eventMatches(ev, filters)) continue;
        lastNano = Math.max(lastNano, ev.timeNano);
        await writeOut(ex, jsonLine(ev));
      }
    }
    if (!live) {
      ex.end();
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const stop = (): void => live.close();
    ex.signal.addEventListener('abort', stop);
    if (until !== undefined) timer = setTimeout(stop, Math.max(0, (until - now) * 1000));
    try {
      for await (const ev of live) {
        if (ev.timeNano <= lastNano) continue;
        if (!inWindow(ev, since, until)) continue;
        if (!eventMatches(ev, filters)) continue;
        await writeOut(ex, jsonLine(ev));
      }
    } finally {
      if (timer) clearTimeout(timer);
      ex.signal.removeEventListener('abort', stop);
      live.close();
    }
    ex.end();
  });
}
