import { stringify } from 'yaml';
import type { Project } from './model.js';

function sorted(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sorted);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const val = (v as Record<string, unknown>)[k];
      if (val !== undefined) out[k] = sorted(val);
    }
    return out;
  }
  return v;
}

/**
 * The normalised model as `docker compose config` prints it: `name` first, then services
 * (sorted, long syntaxes), networks, volumes, secrets, configs; keys sorted inside each.
 */
export function projectToDocument(project: Project): Record<string, unknown> {
  const doc: Record<string, unknown> = { name: project.name, services: sorted(project.services) };
  if (Object.keys(project.networks).length > 0) doc.networks = sorted(project.networks);
  if (Object.keys(project.volumes).length > 0) doc.volumes = sorted(project.volumes);
  if (Object.keys(project.secrets).length > 0) doc.secrets = sorted(project.secrets);
  if (Object.keys(project.configs).length > 0) doc.configs = sorted(project.configs);
  return doc;
}

export function renderConfig(project: Project, format: 'yaml' | 'json' = 'yaml'): string {
  const doc = projectToDocument(project);
  if (format === 'json') return `${JSON.stringify(doc, null, 2)}\n`;
  return stringify(doc, { lineWidth: 0, nullStr: 'null', aliasDuplicateObjects: false });
}
