import type { ClientError, ContainerSummary, EngineClient } from '../client/client.js';
import { LABEL } from './labels.js';

/** The Engine API calls compose needs beyond the CLI's, through the generic client. */

export function isNotFound(err: unknown): boolean {
  return (err as ClientError | undefined)?.statusCode === 404;
}

/** Containers of a project (all states), optionally of some services and one-off or not. */
export async function projectContainers(
  client: EngineClient,
  project: string,
  options: { services?: string[]; oneoff?: boolean; all?: boolean } = {},
): Promise<ContainerSummary[]> {
  const label = [`${LABEL.project}=${project}`];
  if (options.oneoff !== undefined)
    label.push(`${LABEL.oneoff}=${options.oneoff ? 'True' : 'False'}`);
  const list = await client.containerList({ all: options.all ?? true, filters: { label } });
  const wanted =
    options.services && options.services.length > 0 ? new Set(options.services) : undefined;
  return list
    .filter((c) => !wanted || wanted.has(c.Labels?.[LABEL.service] ?? ''))
    .sort((a, b) => {
      const sa = a.Labels?.[LABEL.service] ?? '';
      const sb = b.Labels?.[LABEL.service] ?? '';
      return sa < sb
        ? -1
        : sa > sb
          ? 1
          : Number(a.Labels?.[LABEL.number] ?? 0) - Number(b.Labels?.[LABEL.number] ?? 0);
    });
}

export function nameOf(c: ContainerSummary): string {
  return (c.Names[0] ?? c.Id.slice(0, 12)).replace(/^\//, '');
}

/** `call`'s answer, or undefined when the engine says 404: for look-ups where absence is an answer. */
async function unless404<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err: unknown) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export function networkInspect(
  client: EngineClient,
  name: string,
): Promise<Record<string, unknown> | undefined> {
  return unless404(client.json('GET', `/networks/${encodeURIComponent(name)}`));
}

export function volumeInspect(
  client: EngineClient,
  name: string,
): Promise<Record<string, unknown> | undefined> {
  return unless404(client.json('GET', `/volumes/${encodeURIComponent(name)}`));
}

export function imageExists(
  client: EngineClient,
  name: string,
): Promise<Record<string, unknown> | undefined> {
  return unless404(client.imageInspect(name));
}
