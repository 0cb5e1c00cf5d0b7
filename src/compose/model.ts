/**
 * The normalised Compose model: what the loader produces after merging, interpolation,
 * extends/include and normalisation, with every short syntax expanded to its long form as
 * compose-go does. Keys follow the specification's spelling so that `config` prints the model
 * as it is. Fields not listed are carried as the file gave them.
 */

export interface PortConfig {
  /** `ingress` (the default) or `host`. */
  mode: string;
  host_ip?: string;
  target: number;
  /** The host port or range as a string (`"8080"`, `"8000-8010"`); absent: any free port. */
  published?: string;
  protocol: string;
  name?: string;
  app_protocol?: string;
}

export interface ServiceVolume {
  type: 'volume' | 'bind' | 'tmpfs' | 'npipe' | 'cluster' | 'image';
  /** Volume key (as written in the file, not the engine name), absolute host path, or absent. */
  source?: string;
  target: string;
  read_only?: boolean;
  consistency?: string;
  bind?: { propagation?: string; create_host_path?: boolean; selinux?: string };
  volume?: { nocopy?: boolean; subpath?: string };
  tmpfs?: { size?: number | string; mode?: number };
}

export interface DependsOn {
  condition: 'service_started' | 'service_healthy' | 'service_completed_successfully';
  /** Restart this service when the dependency is restarted by compose. */
  restart?: boolean;
  /** False: a missing or failing dependency only warns. */
  required: boolean;
}

export interface ServiceNetwork {
  aliases?: string[];
  ipv4_address?: string;
  ipv6_address?: string;
  link_local_ips?: string[];
  priority?: number;
}

export interface Healthcheck {
  test?: string[];
  interval?: string;
  timeout?: string;
  retries?: number;
  start_period?: string;
  start_interval?: string;
  disable?: boolean;
}

export interface ServiceFileRef {
  source: string;
  target?: string;
  uid?: string;
  gid?: string;
  mode?: number;
}

export interface BuildConfig {
  /** Absolute directory, or a URL kept as written. */
  context: string;
  dockerfile?: string;
  dockerfile_inline?: string;
  args?: Record<string, string | null>;
  target?: string;
  labels?: Record<string, string>;
  cache_from?: string[];
  network?: string;
  shm_size?: number | string;
  extra_hosts?: string[];
  no_cache?: boolean;
  pull?: boolean;
  tags?: string[];
  platforms?: string[];
}

export interface Service {
  image?: string;
  build?: BuildConfig;
  command?: string[] | null;
  entrypoint?: string[] | null;
  /** Values resolved; null when a bare name was not found in the environment. */
  environment?: Record<string, string | null>;
  labels?: Record<string, string>;
  ports?: PortConfig[];
  expose?: string[];
  volumes?: ServiceVolume[];
  tmpfs?: string[];
  networks?: Record<string, ServiceNetwork | null>;
  network_mode?: string;
  depends_on?: Record<string, DependsOn>;
  healthcheck?: Healthcheck;
  secrets?: ServiceFileRef[];
  configs?: ServiceFileRef[];
  container_name?: string;
  profiles?: string[];
  scale?: number;
  deploy?: Record<string, unknown>;
  dns?: string[];
  dns_search?: string[];
  extra_hosts?: string[];
  sysctls?: Record<string, string>;
  pull_policy?: string;
  [key: string]: unknown;
}

export interface NetworkConfig {
  /** The engine's name: `<project>_<key>` unless given or external. */
  name: string;
  driver?: string;
  driver_opts?: Record<string, string>;
  ipam?: { driver?: string; config?: Record<string, unknown>[]; options?: Record<string, string> };
  external?: boolean;
  internal?: boolean;
  attachable?: boolean;
  enable_ipv6?: boolean;
  labels?: Record<string, string>;
}

export interface VolumeConfig {
  name: string;
  driver?: string;
  driver_opts?: Record<string, string>;
  external?: boolean;
  labels?: Record<string, string>;
}

export interface FileObjectConfig {
  name: string;
  /** Absolute path of the file source. */
  file?: string;
  environment?: string;
  content?: string;
  external?: boolean;
  labels?: Record<string, string>;
}

export interface Project {
  name: string;
  /** The project directory (absolute). */
  workingDir: string;
  /** Absolute paths of the files read, `-` for stdin. */
  configFiles: string[];
  /** Variables visible to interpolation (OS environment over .env). */
  environment: Record<string, string>;
  /** Enabled services (profiles applied), by name. */
  services: Record<string, Service>;
  /** Services left out by profiles, by name. */
  disabledServices: Record<string, Service>;
  networks: Record<string, NetworkConfig>;
  volumes: Record<string, VolumeConfig>;
  secrets: Record<string, FileObjectConfig>;
  configs: Record<string, FileObjectConfig>;
  /** Top-level `x-` keys, kept as written (config prints them). */
  extensions: Record<string, unknown>;
  /** Active profiles. */
  profiles: string[];
  /** Things compose warns about while loading (unset variables, obsolete `version`). */
  warnings: string[];
}
