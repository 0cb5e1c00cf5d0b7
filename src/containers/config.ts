import { InvalidArgumentError } from '../errors/index.js';
import type { ImageRuntimeConfig } from '../spec/oci-image.js';
import type {
  ContainerConfig,
  CreateContainerRequest,
  HealthConfig,
  HostConfig,
} from '../spec/engine.js';
import { mergeHealthcheck } from './health.js';

/**
 * Pure rules of container creation: merging the image's defaults into the container config
 * and validating the HostConfig, as dockerd does before anything is made.
 */

/** Splits `K=V` env entries into a map, later entries winning. */
function envMap(env: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env) {
    const i = e.indexOf('=');
    m.set(i < 0 ? e : e.slice(0, i), e);
  }
  return m;
}

/** The container's config with the image's defaults filled in (moby's daemon `merge`). */
export function mergeImageConfig(
  user: ContainerConfig,
  image: ImageRuntimeConfig | undefined,
): ContainerConfig {
  const img = image ?? {};
  const merged: ContainerConfig = { ...user };
  if (!merged.User) merged.User = img.User ?? '';
  if (img.ExposedPorts) merged.ExposedPorts = { ...img.ExposedPorts, ...(user.ExposedPorts ?? {}) };
  if (!user.Env || user.Env.length === 0) {
    merged.Env = img.Env ?? null;
  } else {
    const env = envMap(img.Env ?? []);
    for (const [k, v] of envMap(user.Env)) env.set(k, v);
    merged.Env = [...env.values()];
  }
  merged.Labels = { ...(img.Labels ?? {}), ...(user.Labels ?? {}) };
  const entrypoint = user.Entrypoint ?? null;
  const noEntrypoint = entrypoint === null || entrypoint.length === 0;
  if (noEntrypoint) {
    if (!user.Cmd || user.Cmd.length === 0) {
      merged.Cmd = img.Cmd ?? null;
      merged.ArgsEscaped = img.ArgsEscaped ?? null;
    }
    if (entrypoint === null) merged.Entrypoint = img.Entrypoint ?? null;
  }
  // `--entrypoint ""` resets the image's entrypoint.
  if (merged.Entrypoint && merged.Entrypoint.length === 1 && merged.Entrypoint[0] === '') {
    merged.Entrypoint = null;
  }
  if (!merged.WorkingDir) merged.WorkingDir = img.WorkingDir ?? '';
  if (img.Volumes) merged.Volumes = { ...img.Volumes, ...(user.Volumes ?? {}) };
  if (!merged.StopSignal && img.StopSignal) merged.StopSignal = img.StopSignal;
  const healthcheck = mergeHealthcheck(
    user.Healthcheck,
    img.Healthcheck as HealthConfig | null | undefined,
  );
  if (healthcheck) merged.Healthcheck = healthcheck;
  if (!merged.Shell && img.Shell) merged.Shell = img.Shell;
  if (merged.OnBuild === undefined) merged.OnBuild = null;
  return merged;
}

/** Entrypoint followed by Cmd: what the container runs. */
export function commandOf(config: ContainerConfig): string[] {
  return [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
}

/**
 * The command as `docker ps` shows it: the path and its arguments, an argument with a space in
 * it between single quotes, as dockerd prints it.
 */
export function commandLine(config: ContainerConfig): string {
  const [path = '', ...args] = commandOf(config);
  if (args.length === 0) return path;
  return `${path} ${args.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}`;
}

const restartPolicies = new Set(['', 'no', 'always', 'unless-stopped', 'on-failure']);

/** Rejects HostConfig values dockerd rejects, with its words, and what berth cannot do yet. */
export function validateHostConfig(host: HostConfig): void {
  const policy = host.RestartPolicy?.Name ?? '';
  if (!restartPolicies.has(policy)) {
    throw new InvalidArgumentError(
      `invalid restart policy: unknown policy '${policy}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`,
    );
  }
  const retries = host.RestartPolicy?.MaximumRetryCount ?? 0;
  if (retries < 0)
    throw new InvalidArgumentError(
      'invalid restart policy: maximum retry count cannot be negative',
    );
  if (retries > 0 && policy !== 'on-failure') {
    throw new InvalidArgumentError(
      `invalid restart policy: maximum retry count can only be used with 'on-failure'`,
    );
  }
  if (host.AutoRemove && policy !== '' && policy !== 'no') {
    throw new InvalidArgumentError(`can't create 'AutoRemove' container with restart policy`);
  }
  // NetworkMode and port bindings are the network service's to check (network/service.ts),
  // volumes and mounts the volume resolver's (volumes/).
}

/** Dockerd refuses a create with nothing to run. */
export function validateCommand(config: ContainerConfig): void {
  if (commandOf(config).length === 0) throw new InvalidArgumentError('no command specified');
}

/** The request's container config without the HostConfig and NetworkingConfig. */
export function containerConfigOf(request: CreateContainerRequest): ContainerConfig {
  const { HostConfig: _h, NetworkingConfig: _n, ...config } = request;
  return config;
}
