import type { CreateContainerRequest } from '../spec/engine.js';
import type { PoolConfig } from './ipam.js';
import type { PortMapping } from './ports.js';
import type { CreatedParent } from './macvlan.js';

/**
 * The network service: networks (bridge, macvlan, host, none; Docker's JSON), the container
 * sandboxes (a persistent network namespace per container), endpoints (veth into a bridge or
 * macvlan sub-interface of a parent link, address from IPAM, routes, published ports, the
 * embedded DNS listening inside the sandbox) and the host's iptables rules they need.
 *
 * Persisted schema, under `<data-root>/network/`, every file written atomically:
 * - `networks/<id>.json`: a {@link NetworkRecord}, written at create, removed at rm. A
 *   macvlan network whose parent berth makes (dummy, VLAN) records it before making it, and
 *   deletes the link before the record: a crash in between leaves a record whose link the
 *   next start makes again, never a link that belongs to nothing.
 * - `containers/<container-id>.json`: a {@link SandboxRecord}: which networks a container is
 *   attached to (with its aliases, static addresses, links) and, while it runs, its live
 *   endpoints (address, MAC, veth, host ports). Leases are never stored apart: a network's
 *   leased addresses are those of the live endpoints in these records, so the two cannot
 *   disagree after a crash; a restart brings live endpoints of containers that no longer run
 *   down, and deletes links, netns files and rules that belong to nothing.
 * Runtime state: `<exec-root>/netns/<container-id>`, the sandbox's bind-mounted netns, made
 * with the container's task (at create, ahead of start) and removed when the task ends.
 */

/** A network as `GET /networks/{id}` shows it (Containers filled in at read time). */
export interface NetworkRecord {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: 'bridge' | 'host' | 'null' | 'macvlan';
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: PoolConfig[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Options: Record<string, string>;
  Labels: Record<string, string>;
  /** berth's own (not in Docker's JSON): the macvlan parent link berth made and deletes. */
  CreatedParent?: CreatedParent;
}

/** The part of a container record the network service reads. */
export interface NetContainer {
  id: string;
  name: string;
  config: CreateContainerRequest;
  hostsPath: string;
  resolvConfPath: string;
}

/** One network a container is attached to, as configured (kept while stopped). */
export interface Attachment {
  networkId: string;
  aliases: string[];
  ipv4?: string;
  ipv6?: string;
  links: string[];
  /** Set once, at the first connect, as dockerd keeps it for the endpoint's life. */
  endpointId: string;
}

/** A live endpoint: what exists on the host while the container runs. */
export interface Endpoint {
  networkId: string;
  endpointId: string;
  /** Host side of the veth; empty for a macvlan endpoint (nothing of it is on the host). */
  veth: string;
  /** The link's name inside the sandbox (eth0...). */
  ifname?: string;
  ipv4: string;
  prefix: number;
  gateway: string;
  ipv6: string;
  prefix6: number;
  gateway6: string;
  mac: string;
  ports: PortMapping[];
}

export interface SandboxRecord {
  containerId: string;
  /** The container's name when last seen, for `network inspect` and DNS. */
  name: string;
  /** Keyed by network name (as Docker's NetworkSettings.Networks). */
  attachments: Record<string, Attachment>;
  /** Keyed by network id; empty while the container does not run. */
  endpoints: Record<string, Endpoint>;
  /** Upstream resolvers of the container's resolv.conf, for the embedded DNS. */
  upstreams: string[];
  /**
   * The index of the next interface made in the running sandbox (`eth<n>`): counted up from 0
   * at each start and never reused meanwhile, as dockerd names them, so that a connect after a
   * disconnect does not take a name still in use.
   */
  nextIfIndex?: number;
}

export interface CreateNetworkRequest {
  Name: string;
  Driver?: string;
  CheckDuplicate?: boolean;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  EnableIPv6?: boolean;
  IPAM?: { Driver?: string; Config?: PoolConfig[]; Options?: Record<string, string> | null };
  Options?: Record<string, string>;
  Labels?: Record<string, string>;
}

export interface EndpointSettingsRequest {
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string } | null;
  Aliases?: string[] | null;
  Links?: string[] | null;
}

/** The hooks the container service calls along a container's life. */
export interface ContainerNetworking {
  /** At create: checks NetworkMode and the endpoint configs, records the attachments. */
  create(c: NetContainer): Promise<void>;
  /**
   * The network namespace path a task must join (made now when missing), or undefined when the
   * runtime's default applies (none: a private netns with lo; host and container: modes).
   */
  sandbox(c: NetContainer): Promise<string | undefined>;
  /**
   * For a task whose own user namespace must own its network namespace (--userns-remap): the
   * runtime made the netns; it becomes the sandbox, kept at the same path `sandbox` would give.
   */
  adopt(c: NetContainer, pid: number): Promise<void>;
  /**
   * Before the process starts: every attached network's endpoint up, the embedded resolver
   * listening inside the sandbox when one of them is user-defined, /etc files rewritten.
   */
  up(c: NetContainer): Promise<void>;
  /**
   * After the process ended or a start failed: every endpoint down (veth or macvlan
   * sub-interface, port rules), leases released, the sandbox's resolver closed, the netns file
   * removed (the next task makes a new one).
   */
  down(containerId: string): Promise<void>;
  /** At remove: endpoints down, netns file and attachments gone. */
  remove(containerId: string): Promise<void>;
  /** Container inspect's NetworkSettings. */
  settings(c: NetContainer): Record<string, unknown>;
  /** The `Ports` and `NetworkSettings` of a container list entry. */
  summary(c: NetContainer): {
    Ports: unknown[];
    NetworkSettings: { Networks: Record<string, unknown> };
  };
  /** At start-up, with every container record and whether it runs: drops what belongs to nothing. */
  reconcile(containers: readonly (NetContainer & { running: boolean })[]): Promise<void>;
}

export interface NetworkService extends ContainerNetworking {
  createNetwork(req: CreateNetworkRequest): Promise<{ Id: string; Warning: string }>;
  /** By full id, unique id prefix or name; NotFoundError("network <ref> not found"). */
  inspect(ref: string): Promise<NetworkRecord & { Containers: Record<string, unknown> }>;
  list(
    filters: Record<string, string[]>,
  ): Promise<(NetworkRecord & { Containers: Record<string, unknown> })[]>;
  /** ConflictError with dockerd's words while endpoints are attached; Forbidden for predefined. */
  removeNetwork(ref: string): Promise<void>;
  prune(filters: Record<string, string[]>): Promise<{ NetworksDeleted: string[] }>;
  /** Attaches a container; brings the endpoint up when it runs. */
  connect(
    c: NetContainer & { running: boolean },
    ref: string,
    config: EndpointSettingsRequest,
  ): Promise<void>;
  /** Detaches a container; `force` also when the network is gone or the endpoint is stale. */
  disconnect(c: NetContainer & { running: boolean }, ref: string, force: boolean): Promise<void>;
  close(): Promise<void>;
}
