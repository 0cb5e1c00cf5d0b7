import { InvalidArgumentError } from '../../errors/index.js';
import type { IdMap } from '../../idmap/idmap.js';
import type { HostConfig } from '../../spec/engine.js';
import type { RuntimeSpec } from '../../spec/oci-runtime.js';

/**
 * User namespaces of a remapped daemon (--userns-remap): every container gets its own user
 * namespace with the daemon's mapping unless its HostConfig.UsernsMode is `host`.
 */

/** Whether the container runs in a user namespace: the daemon remaps and UsernsMode is not host. */
export function usernsPrivate(h: HostConfig, idMap: IdMap | undefined): boolean {
  return idMap !== undefined && (h.UsernsMode ?? '') !== 'host';
}

/** dockerd's create-time checks of options that cannot work in a user namespace. */
export function validateUserns(h: HostConfig, idMap: IdMap | undefined): void {
  if (!usernsPrivate(h, idMap)) return;
  if (h.Privileged) {
    throw new InvalidArgumentError(
      'privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode',
    );
  }
  if ((h.NetworkMode ?? '') === 'host') {
    throw new InvalidArgumentError(
      "cannot share the host's network namespace when user namespaces are enabled",
    );
  }
  if ((h.PidMode ?? '') === 'host') {
    throw new InvalidArgumentError(
      'cannot share the host PID namespace when user namespaces are enabled',
    );
  }
}

/**
 * Adds the user namespace and its mappings to a built spec when the container gets one.
 * As dockerd, `net.ipv4.ping_group_range` is not set by default then: its range names gids
 * the namespace does not map, which the kernel refuses.
 */
export function applyUserns(spec: RuntimeSpec, h: HostConfig, idMap: IdMap | undefined): void {
  if (!idMap || !usernsPrivate(h, idMap)) return;
  const linux = spec.linux;
  if (!linux) return;
  const namespaces = linux.namespaces;
  if (!namespaces.some((n) => n.type === 'user')) namespaces.push({ type: 'user' });
  linux.uidMappings = idMap.uid.map((r) => ({ ...r }));
  linux.gidMappings = idMap.gid.map((r) => ({ ...r }));
  if (linux.sysctl && h.Sysctls?.['net.ipv4.ping_group_range'] === undefined) {
    delete linux.sysctl['net.ipv4.ping_group_range'];
  }
}

/**
 * The kernel mounts sysfs only for a user namespace that owns the network namespace. A user
 * namespace joining a network namespace made beforehand (berth's sandbox, the host's, another
 * container's) gets the host's /sys bind-mounted read-only instead, as runtimes do rootless.
 */
export function sysfsForJoinedNetns(spec: RuntimeSpec, h: HostConfig): void {
  const namespaces = spec.linux?.namespaces ?? [];
  if (!namespaces.some((n) => n.type === 'user')) return;
  const net = namespaces.find((n) => n.type === 'network');
  if (net && net.path === undefined) return;
  // Nor may it write that network namespace's sysctls: the defaults dockerd sets are dropped
  // (the sandbox keeps the kernel's); ones the user asked for stay, and fail loudly.
  const sysctl = spec.linux?.sysctl;
  if (sysctl && h.Sysctls?.['net.ipv4.ip_unprivileged_port_start'] === undefined) {
    delete sysctl['net.ipv4.ip_unprivileged_port_start'];
  }
  spec.mounts = spec.mounts.map((m) =>
    m.destination === '/sys' && m.type === 'sysfs'
      ? {
          destination: '/sys',
          type: 'bind',
          source: '/sys',
          options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'],
        }
      : m,
  );
}
