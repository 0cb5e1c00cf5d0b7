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
