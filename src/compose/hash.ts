import { createHash } from 'node:crypto';
import type { Service } from './model.js';

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const val = (v as Record<string, unknown>)[k];
      if (val !== undefined) out[k] = canonical(val);
    }
    return out;
  }
  return v;
}

/**
 * The `com.docker.compose.config-hash` of a service: sha256 of its normalised configuration
 * without the fields that do not change the container (build, pull_policy, scale and
 * deploy.replicas, depends_on, profiles), as compose computes it. Canonical JSON (sorted keys)
 * makes it independent of the order of the file.
 */
export function serviceHash(svc: Service): string {
  const o: Record<string, unknown> = { ...svc };
  delete o.build;
  delete o.pull_policy;
  delete o.scale;
  delete o.depends_on;
  delete o.profiles;
  if (o.deploy && typeof o.deploy === 'object') {
    const d = { ...(o.deploy as Record<string, unknown>) };
    delete d.replicas;
    o.deploy = d;
  }
  return createHash('sha256')
    .update(JSON.stringify(canonical(o)))
    .digest('hex');
}
