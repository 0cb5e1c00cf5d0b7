import { ComposeError } from './errors.js';
import type { Project, Service } from './model.js';

/**
 * The checks compose makes on the whole model before anything is created: services and
 * resources that are named must exist, and dependencies may not form a cycle. Messages follow
 * compose's.
 */
export function checkProject(project: Project): void {
  const all = { ...project.services, ...project.disabledServices };
  for (const [name, svc] of Object.entries(project.services)) {
    if (svc.image === undefined && svc.build === undefined)
      throw new ComposeError(
        `service "${name}" has neither an image nor a build context specified: invalid compose project`,
      );
    for (const [dep, d] of Object.entries(svc.depends_on ?? {})) {
      if (!(dep in all))
        throw new ComposeError(
          `service "${name}" depends on undefined service "${dep}": invalid compose project`,
        );
      if (!(dep in project.services) && d.required)
        throw new ComposeError(
          `service "${name}" depends on undefined service "${dep}": invalid compose project`,
        );
    }
    for (const link of (svc.links as string[] | undefined) ?? []) {
      const target = String(link).split(':')[0] as string;
      if (!(target in all))
        throw new ComposeError(
          `service "${name}" depends on undefined service "${target}": invalid compose project`,
        );
    }
    const mode = svc.network_mode;
    if (typeof mode === 'string' && mode.startsWith('service:')) {
      const target = mode.slice('service:'.length);
      if (!(target in all))
        throw new ComposeError(
          `service "${name}" depends on undefined service "${target}": invalid compose project`,
        );
    }
    for (const n of Object.keys(svc.networks ?? {}))
      if (!(n in project.networks))
        throw new ComposeError(
          `service "${name}" refers to undefined network ${n}: invalid compose project`,
        );
    for (const v of svc.volumes ?? [])
      if (v.type === 'volume' && v.source !== undefined && !(v.source in project.volumes))
        throw new ComposeError(
          `service "${name}" refers to undefined volume ${v.source}: invalid compose project`,
        );
    for (const s of svc.secrets ?? [])
      if (!(s.source in project.secrets))
        throw new ComposeError(
          `service "${name}" refers to undefined secret ${s.source}: invalid compose project`,
        );
    for (const c of svc.configs ?? [])
      if (!(c.source in project.configs))
        throw new ComposeError(
          `service "${name}" refers to undefined config ${c.source}: invalid compose project`,
        );
  }
  for (const [k, o] of [...Object.entries(project.secrets), ...Object.entries(project.configs)])
    if (
      !o.external &&
      o.file === undefined &&
      o.environment === undefined &&
      o.content === undefined
    )
      throw new ComposeError(`${k}: must specify a file, environment or content source`);
  dependencyOrder(project.services);
}

/** Names a service depends on, from depends_on, links and network_mode/volumes_from `service:`. */
export function dependenciesOf(svc: Service): string[] {
  const deps = new Set(Object.keys(svc.depends_on ?? {}));
  for (const link of (svc.links as string[] | undefined) ?? [])
    deps.add(String(link).split(':')[0] as string);
  const mode = svc.network_mode;
  if (typeof mode === 'string' && mode.startsWith('service:')) deps.add(mode.slice(8));
  for (const vf of (svc.volumes_from as string[] | undefined) ?? []) {
    const [src] = String(vf).split(':');
    if (src !== undefined && !src.startsWith('container')) deps.add(src);
  }
  return [...deps];
}

/**
 * The services in an order where each comes after what it depends on (dependencies that are
 * not in `services` are ignored); a cycle is an error naming it.
 */
export function dependencyOrder(services: Record<string, Service>): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, stack: string[]): void => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(name)), name];
      throw new ComposeError(`dependency cycle detected: ${cycle.join(' -> ')}`);
    }
    state.set(name, 'visiting');
    const svc = services[name] as Service;
    for (const dep of dependenciesOf(svc).sort()) if (dep in services) visit(dep, [...stack, name]);
    state.set(name, 'done');
    order.push(name);
  };
  for (const name of Object.keys(services).sort()) visit(name, []);
  return order;
}
