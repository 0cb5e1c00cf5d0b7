import { Document, isScalar, Scalar, visit } from 'yaml';
import type { Project } from './model.js';

const YAML11_BOOL = /^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$/;

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
  for (const k of Object.keys(project.extensions).sort()) doc[k] = project.extensions[k];
  return doc;
}

export function renderConfig(project: Project, format: 'yaml' | 'json' = 'yaml'): string {
  const doc = projectToDocument(project);
  if (format === 'json') return `${JSON.stringify(doc, null, 2)}\n`;
  const d = new Document(doc, { aliasDuplicateObjects: false });
  // Strings a YAML 1.1 reader takes for booleans are quoted, as Go's yaml.v3 writes them, so
  // that older tools read `restart: "no"` back as a string.
  visit(d, {
    Scalar(_key, node) {
      if (isScalar(node) && typeof node.value === 'string' && YAML11_BOOL.test(node.value))
        node.type = Scalar.QUOTE_DOUBLE;
    },
  });
  return d.toString({ lineWidth: 0, nullStr: 'null' });
}
