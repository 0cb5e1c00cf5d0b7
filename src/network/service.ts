import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import {
  BerthError,
  ConflictError,
  type ErrorOptions,
  ForbiddenError,
  InvalidArgumentError,
  NotFoundError,
} from '../errors/index.js';
import type { Events } from '../events/events.js';
import { readJsonIfExists, writeJsonAtomic } from '../util/atomic.js';
import { newId } from '../util/digest.js';
import { KeyedMutex } from '../util/lock.js';
import { formatCidr, parseAddr, parseCidr } from './ip.js';
import {
  allocate,
  checkNoOverlap,
  chooseSubnet,
  familyOf,
  gatewayOf,
  normalisePool,
  prefixLength,
  type PoolConfig,
} from './ipam.js';
import {
  addMacvlan,
  addParentLink,
  addRules,
  addVeth,
  adoptNetns,
  createNetns,
  deleteLink,
  deleteLinkIn,
  deleteNetns,
  deleteRules,
  ensureBridge,
  ensureChains,
  ephemeralRange,
  iptablesRestore,
  iptablesSave,
  linkAddresses,
  linkExists,
  listLinks,
  listNetns,
  prepareNetnsDir,
  routedSubnets,
  sandboxSysctl,
  setIpForward,
  addAddress6,
} from './netlink.js';
import type {
  Attachment,
  CreateNetworkRequest,
  Endpoint,
  EndpointSettingsRequest,
  NetContainer,
  NetworkRecord,
  NetworkService,
  SandboxRecord,
} from './network.js';
import { newPortHolds, type PortHolds } from './port-holds.js';
import { allocatePorts, portRequests, portsView, type PortMapping } from './ports.js';
import {
  bridgeRules,
  chains,
  jumps,
  portRules,
  sandboxDnsScript,
  taggedRules,
  type Rule,
} from './rules.js';
import {
  loadDns,
  loadEtc,
  plainHosts,
  type DnsModule,
  type DnsNames,
  type DnsServer,
  type EtcModule,
} from './dns-link.js';
import { filterNetworks } from './filters.js';
import { endpointNames } from './dns-names.js';
import { macvlanPlan, modeOf as macvlanModeOf, parentOf } from './macvlan.js';
import { native } from '../util/native.js';
import { closeSync } from 'node:fs';

export interface NetworkServiceOptions {
  /** `<data-root>/network`. */
  root: string;
  /** `<exec-root>`: sandboxes live in `<exec-root>/netns/`. */
  execRoot: string;
  events: Events;
  /** The default network's bridge (dockerd's docker0). */
  defaultBridge?: string;
}

const opt = {
  name: 'com.docker.network.bridge.name',
  icc: 'com.docker.network.bridge.enable_icc',
  masq: 'com.docker.network.bridge.enable_ip_masquerade',
  hostIp: 'com.docker.network.bridge.host_binding_ipv4',
  mtu: 'com.docker.network.driver.mtu',
  defaultBridge: 'com.docker.network.bridge.default_bridge',
} as const;

const predefined = new Set(['bridge', 'host', 'none']);
const hostResolvConfPath = '/etc/resolv.conf';

/** Docker's MAC for an IPv4 address: 02:42 and the four bytes of the address. */
export function macFor(ip: string): string {
  const v = parseAddr(ip).value;
  const bytes = [0x02, 0x42, ...[24n, 16n, 8n, 0n].map((s) => Number((v >> s) & 255n))];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

function endpointsConfigOf(c: NetContainer): Record<string, EndpointSettingsRequest> {
  const nc = c.config.NetworkingConfig as
    { EndpointsConfig?: Record<string, EndpointSettingsRequest> } | undefined | null;
  return nc?.EndpointsConfig ?? {};
}

function modeOf(c: NetContainer): string {
  if (c.config.NetworkDisabled) return 'none';
  const m = c.config.HostConfig?.NetworkMode ?? '';
  return m === '' || m === 'default' ? 'bridge' : m;
}

/** A port that cannot be published, in dockerd's words: the endpoint named, the class kept. */
function connectivityError(err: unknown, container: string, endpointId: string): unknown {
  if (!(err instanceof BerthError)) return err;
  const Kind = err.constructor as new (message: string, options?: ErrorOptions) => BerthError;
  return new Kind(
    `driver failed programming external connectivity on endpoint ${container} (${endpointId}): ${err.message}`,
    { cause: err },
  );
}

/**
 * The order a starting sandbox's endpoints are made in, and so named (eth0, eth1, ...): as
 * dockerd, the network of HostConfig.NetworkMode first; then, where dockerd follows a map's
 * random order, by name.
 */
function startOrder(s: SandboxRecord, primary: string): [string, Attachment][] {
  const first = (key: string, a: Attachment): boolean => key === primary || a.networkId === primary;
  return Object.entries(s.attachments).sort(([ka, a], [kb, b]) => {
    const fa = first(ka, a);
    const fb = first(kb, b);
    if (fa !== fb) return fa ? -1 : 1;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}

class Service implements NetworkService {
  readonly #o: NetworkServiceOptions;
  readonly #networks = new Map<string, NetworkRecord>();
  readonly #sandboxes = new Map<string, SandboxRecord>();
  /** The embedded resolver of each running sandbox on a DNS-enabled network, by container id. */
  readonly #resolvers = new Map<string, DnsServer>();
  readonly #lock = new KeyedMutex();
  readonly #netnsDir: string;
  #tag = '';
  #dnsModule: DnsModule | undefined;
  #etcModule: EtcModule | undefined;
  #ephemeral: [number, number] = [49153, 60999];
  /** Every published host port of a live endpoint, bound while the endpoint exists. */
  readonly #holds: PortHolds;

  constructor(o: NetworkServiceOptions) {
    this.#o = o;
    this.#netnsDir = path.join(o.execRoot, 'netns');
    this.#holds = newPortHolds({ targetOf: (m) => this.#targetOf(m) });
  }

  get #bridgeName(): string {
    return this.#o.defaultBridge ?? 'berth0';
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    return this.#lock.withLock('network', fn);
  }

  // ---- start-up ---------------------------------------------------------------------------

  async open(): Promise<void> {
    await fs.mkdir(path.join(this.#o.root, 'networks'), { recursive: true });
    await fs.mkdir(path.join(this.#o.root, 'containers'), { recursive: true });
    this.#tag = daemonTag(this.#o.root);
    this.#dnsModule = await loadDns();
    this.#etcModule = await loadEtc();
    this.#ephemeral = await ephemeralRange();
    for (const name of await fs.readdir(path.join(this.#o.root, 'networks'))) {
      if (!name.endsWith('.json')) continue;
      const r = await readJsonIfExists<NetworkRecord>(path.join(this.#o.root, 'networks', name));
      if (r) this.#networks.set(r.Id, r);
    }
    for (const name of await fs.readdir(path.join(this.#o.root, 'containers'))) {
      if (!name.endsWith('.json')) continue;
      const r = await readJsonIfExists<SandboxRecord>(path.join(this.#o.root, 'containers', name));
      if (r) this.#sandboxes.set(r.containerId, r);
    }
    await setIpForward();
    await ensureChains(chains, jumps);
    await prepareNetnsDir(this.#netnsDir);
    await this.#ensurePredefined();
    for (const n of this.#networks.values()) {
      if (n.Driver === 'bridge') await this.#bridgeUp(n);
      // A parent berth made comes back should the host have lost it; a failure shows at start.
      if (n.Driver === 'macvlan') await this.#parentUp(n).catch(() => undefined);
    }
  }

  async #ensurePredefined(): Promise<void> {
    const byName = (n: string): NetworkRecord | undefined =>
      [...this.#networks.values()].find((r) => r.Name === n);
    const base = (name: string, driver: NetworkRecord['Driver']): NetworkRecord => ({
      Name: name,
      Id: newId(),
      Created: new Date().toISOString(),
      Scope: 'local',
      Driver: driver,
      EnableIPv6: false,
      IPAM: { Driver: 'default', Options: null, Config: [] },
      Internal: false,
      Attachable: false,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Options: {},
      Labels: {},
    });
    if (!byName('bridge')) {
      // A bridge left by an earlier berthd keeps its address, as docker0 keeps dockerd's.
      const existing = (await linkAddresses(this.#bridgeName))?.[0];
      let pool: PoolConfig;
      if (existing) {
        const c = parseCidr(existing, { loose: true });
        pool = { Subnet: formatCidr(c), Gateway: existing.split('/')[0] as string };
      } else {
        const taken = [
          ...(await routedSubnets()),
          ...[...this.#networks.values()].flatMap((n) => n.IPAM.Config.map((p) => p.Subnet)),
        ].map((s) => parseCidr(s, { loose: true }));
        const s = chooseSubnet(taken);
        pool = { Subnet: formatCidr(s), Gateway: gatewayOf({ Subnet: formatCidr(s) }) };
      }
      const r = base('bridge', 'bridge');
      r.IPAM.Config = [pool];
      r.Options = {
        [opt.defaultBridge]: 'true',
        [opt.icc]: 'true',
        [opt.masq]: 'true',
        [opt.hostIp]: '0.0.0.0',
        [opt.name]: this.#bridgeName,
        [opt.mtu]: '1500',
      };
      await this.#saveNetwork(r);
    }
    if (!byName('host')) await this.#saveNetwork(base('host', 'host'));
    if (!byName('none')) await this.#saveNetwork(base('none', 'null'));
  }

  #bridgeOf(n: NetworkRecord): string {
    return n.Options[opt.name] ?? `br-${n.Id.slice(0, 12)}`;
  }

  #isDefault(n: NetworkRecord): boolean {
    return n.Options[opt.defaultBridge] === 'true';
  }

  #ruleInput(n: NetworkRecord): Parameters<typeof bridgeRules>[0] {
    return {
      id: n.Id,
      bridge: this.#bridgeOf(n),
      subnets: n.IPAM.Config.filter((p) => familyOf(p) === 4).map((p) => p.Subnet),
      internal: n.Internal,
      icc: n.Options[opt.icc] !== 'false',
      masquerade: n.Options[opt.masq] !== 'false',
    };
  }

  /** The bridge with its gateways up and the embedded DNS listening (user networks). */
  async #bridgeUp(n: NetworkRecord): Promise<void> {
    const bridge = this.#bridgeOf(n);
    const v4 = n.IPAM.Config.filter((p) => familyOf(p) === 4);
    await ensureBridge(
      bridge,
      v4.map((p) => `${gatewayOf(p)}/${prefixLength(p)}`),
      Number(n.Options[opt.mtu] ?? 0),
    );
    for (const p of n.IPAM.Config.filter((p) => familyOf(p) === 6))
      await addAddress6(bridge, `${gatewayOf(p)}/${prefixLength(p)}`);
  }

  /** The parent link a macvlan network's endpoints hang from, made again if berth made it. */
  async #parentUp(n: NetworkRecord): Promise<void> {
    const parent = parentOf(n);
    if (await linkExists(parent)) return;
    if (!n.CreatedParent)
      throw new NotFoundError(
        `the requested parent interface ${parent} was not found on the Docker host`,
      );
    await addParentLink(n.CreatedParent);
  }

  /** Whether the embedded DNS serves a network: user-defined bridge and macvlan networks. */
  #dnsEnabled(n: NetworkRecord | undefined): boolean {
    return (
      n !== undefined && ((n.Driver === 'bridge' && !this.#isDefault(n)) || n.Driver === 'macvlan')
    );
  }

  async #saveNetwork(r: NetworkRecord): Promise<void> {
    await writeJsonAtomic(path.join(this.#o.root, 'networks', `${r.Id}.json`), r);
    this.#networks.set(r.Id, r);
  }

  async #saveSandbox(s: SandboxRecord): Promise<void> {
    await writeJsonAtomic(path.join(this.#o.root, 'containers', `${s.containerId}.json`), s);
    this.#sandboxes.set(s.containerId, s);
  }

  // ---- lookups ----------------------------------------------------------------------------

  #find(ref: string): NetworkRecord {
    const all = [...this.#networks.values()];
    const exact = this.#networks.get(ref) ?? all.find((n) => n.Name === ref);
    if (exact) return exact;
    const prefix = ref.length > 0 ? all.filter((n) => n.Id.startsWith(ref)) : [];
    if (prefix.length === 1) return prefix[0] as NetworkRecord;
    if (prefix.length > 1)
      throw new InvalidArgumentError(
        `network ${ref} is ambiguous (${prefix.length} matches found based on ID prefix)`,
      );
    throw new NotFoundError(`network ${ref} not found`);
  }

  #containersOf(n: NetworkRecord): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const s of this.#sandboxes.values()) {
      const ep = s.endpoints[n.Id];
      if (!ep) continue;
      out[s.containerId] = {
        Name: s.name,
        EndpointID: ep.endpointId,
        MacAddress: ep.mac,
        IPv4Address: ep.ipv4 ? `${ep.ipv4}/${ep.prefix}` : '',
        IPv6Address: ep.ipv6 ? `${ep.ipv6}/${ep.prefix6}` : '',
      };
    }
    return out;
  }

  #view(n: NetworkRecord): NetworkRecord & { Containers: Record<string, unknown> } {
    const { Options, Labels, CreatedParent, ...rest } = n;
    void CreatedParent;
    return { ...rest, Containers: this.#containersOf(n), Options, Labels };
  }

  // ---- networks ---------------------------------------------------------------------------

  async createNetwork(req: CreateNetworkRequest): Promise<{ Id: string; Warning: string }> {
    return this.#serial(async () => {
      const name = req.Name;
      if (!name) throw new InvalidArgumentError('network name is required');
      if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name))
        throw new InvalidArgumentError(`invalid network name: ${name}`);
      if ([...this.#networks.values()].some((n) => n.Name === name))
        throw new ConflictError(`network with name ${name} already exists`);
      const driver = req.Driver || 'bridge';
      if (driver === 'host' || driver === 'null')
        throw new ForbiddenError(`only one instance of "${driver}" network is allowed`);
      if (driver !== 'bridge' && driver !== 'macvlan')
        throw new NotFoundError(`plugin "${driver}" not found`);
      if (req.IPAM?.Driver && req.IPAM.Driver !== 'default')
        throw new NotFoundError(`plugin "${req.IPAM.Driver}" not found`);
      const options = { ...(req.Options ?? {}) };
      for (const k of [opt.icc, opt.masq]) {
        if (k in options && !['true', 'false'].includes(options[k] as string))
          throw new InvalidArgumentError(`failed to parse ${k}: invalid value ${options[k] ?? ''}`);
      }
      if (opt.mtu in options && !/^\d+$/.test(options[opt.mtu] as string))
        throw new InvalidArgumentError(`invalid MTU: ${options[opt.mtu] ?? ''}`);
      if (opt.hostIp in options) parseAddr(options[opt.hostIp] as string, 'host binding address');
      const bridgeName = driver === 'bridge' ? options[opt.name] : undefined;
      if (bridgeName !== undefined) {
        if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(bridgeName))
          throw new InvalidArgumentError(`invalid bridge name: ${bridgeName}`);
        if (
          [...this.#networks.values()].some(
            (n) => n.Driver === 'bridge' && this.#bridgeOf(n) === bridgeName,
          )
        )
          throw new ConflictError(`bridge name ${bridgeName} is already used by another network`);
        if ((await listLinks()).some((l) => l.name === bridgeName))
          throw new ConflictError(`bridge ${bridgeName} already exists on the host`);
      }
      const others = [...this.#networks.values()].flatMap((n) =>
        n.IPAM.Config.map((p) => p.Subnet),
      );
      const pools: PoolConfig[] = [];
      for (const p of req.IPAM?.Config ?? []) {
        if (!p.Subnet) throw new InvalidArgumentError('ipam config: subnet is required');
        const pool = normalisePool(p, { defaultGateway: false });
        checkNoOverlap(pool, [...others, ...pools.map((x) => x.Subnet)]);
        pools.push(pool);
      }
      if (!pools.some((p) => familyOf(p) === 4)) {
        const taken = [...(await routedSubnets()), ...others].map((s) =>
          parseCidr(s, { loose: true }),
        );
        const s = formatCidr(chooseSubnet(taken));
        pools.unshift({ Subnet: s, Gateway: gatewayOf({ Subnet: s }) });
      }
      if (req.EnableIPv6 && !pools.some((p) => familyOf(p) === 6))
        throw new InvalidArgumentError(
          'could not find an available, non-overlapping IPv6 address pool: give --subnet with an IPv6 prefix',
        );
      if (!req.EnableIPv6 && pools.some((p) => familyOf(p) === 6))
        throw new InvalidArgumentError('IPv6 subnet given without --ipv6');
      let id = newId();
      const links = new Set((await listLinks()).map((l) => l.name));
      const own = driver === 'bridge' ? 'br' : 'dm';
      while (bridgeName === undefined && links.has(`${own}-${id.slice(0, 12)}`)) id = newId();
      // After the pools, as dockerd's driver sees the network once IPAM has allocated them.
      const plan =
        driver === 'macvlan'
          ? macvlanPlan({
              id,
              options,
              linkExists: (l) => links.has(l),
              others: [...this.#networks.values()].filter((n) => n.Driver === 'macvlan'),
            })
          : undefined;
      const r: NetworkRecord = {
        Name: name,
        Id: id,
        Created: new Date().toISOString(),
        Scope: 'local',
        Driver: driver,
        EnableIPv6: req.EnableIPv6 === true,
        IPAM: { Driver: 'default', Options: req.IPAM?.Options ?? {}, Config: pools },
        Internal: req.Internal === true,
        Attachable: req.Attachable === true,
        Ingress: false,
        ConfigFrom: { Network: '' },
        ConfigOnly: false,
        Options: options,
        Labels: req.Labels ?? {},
        ...(plan?.create ? { CreatedParent: plan.create } : {}),
      };
      // Record first: a crash after this leaves a network that the next start brings up.
      await this.#saveNetwork(r);
      try {
        if (plan?.create) await addParentLink(plan.create);
        if (driver === 'bridge') {
          await this.#bridgeUp(r);
          await addRules(bridgeRules(this.#ruleInput(r), this.#tag));
        }
      } catch (err: unknown) {
        await this.#dropNetwork(r);
        throw err;
      }
      this.#o.events.publish({
        Type: 'network',
        Action: 'create',
        id: r.Id,
        attributes: { name: r.Name, type: r.Driver },
      });
      return { Id: r.Id, Warning: '' };
    });
  }

  async #dropNetwork(r: NetworkRecord): Promise<void> {
    if (r.Driver === 'bridge') {
      await deleteRules(bridgeRules(this.#ruleInput(r), this.#tag));
      await deleteLink(this.#bridgeOf(r));
    }
    // Only a link berth made; a parent the user gave stays, as in dockerd.
    if (r.Driver === 'macvlan' && r.CreatedParent) await deleteLink(r.CreatedParent.name);
    await fs.rm(path.join(this.#o.root, 'networks', `${r.Id}.json`), { force: true });
    this.#networks.delete(r.Id);
  }

  async inspect(ref: string): Promise<NetworkRecord & { Containers: Record<string, unknown> }> {
    return this.#view(this.#find(ref));
  }

  async list(
    filters: Record<string, string[]>,
  ): Promise<(NetworkRecord & { Containers: Record<string, unknown> })[]> {
    const all = [...this.#networks.values()].map((n) => this.#view(n));
    return filterNetworks(all, filters, (n) => (predefined.has(n.Name) ? 'builtin' : 'custom'));
  }

  async removeNetwork(ref: string): Promise<void> {
    await this.#serial(async () => {
      const n = this.#find(ref);
      if (predefined.has(n.Name))
        throw new ForbiddenError(`${n.Name} is a pre-defined network and cannot be removed`);
      const users = [...this.#sandboxes.values()].filter((s) => s.endpoints[n.Id]);
      if (users.length > 0)
        throw new ForbiddenError(
          `error while removing network: network ${n.Name} id ${n.Id} has active endpoints`,
        );
      await this.#dropNetwork(n);
      // Stopped containers keep a dangling attachment, as in dockerd; start then fails on it.
      this.#o.events.publish({
        Type: 'network',
        Action: 'destroy',
        id: n.Id,
        attributes: { name: n.Name, type: n.Driver },
      });
    });
  }

  async prune(filters: Record<string, string[]>): Promise<{ NetworksDeleted: string[] }> {
    const deleted: string[] = [];
    const candidates = await this.list(filters);
    for (const n of candidates) {
      if (predefined.has(n.Name)) continue;
      if (Object.keys(n.Containers).length > 0) continue;
      const used = [...this.#sandboxes.values()].some((s) =>
        Object.values(s.attachments).some((a) => a.networkId === n.Id),
      );
      if (used) continue;
      await this.removeNetwork(n.Id).then(
        () => deleted.push(n.Name),
        () => undefined,
      );
    }
    this.#o.events.publish({ Type: 'network', Action: 'prune', id: '', attributes: {} });
    return { NetworksDeleted: deleted };
  }

  // ---- containers: attachments ------------------------------------------------------------

  #attachment(n: NetworkRecord, cfg: EndpointSettingsRequest, c: NetContainer): Attachment {
    const ipv4 = cfg.IPAMConfig?.IPv4Address || undefined;
    const ipv6 = cfg.IPAMConfig?.IPv6Address || undefined;
    const aliases = cfg.Aliases ?? [];
    if (this.#isDefault(n) || (n.Driver !== 'bridge' && n.Driver !== 'macvlan')) {
      if (ipv4 || ipv6)
        throw new InvalidArgumentError(
          'user specified IP address is supported on user defined networks only',
        );
      if (aliases.length > 0)
        throw new InvalidArgumentError(
          'network-scoped alias is supported only for containers in user defined networks',
        );
    }
    if (ipv4) {
      const pool = n.IPAM.Config.find((p) => familyOf(p) === 4);
      if (!n.IPAM.Config.some((p) => p.Subnet) || !pool)
        throw new InvalidArgumentError(
          'user specified IP address is supported only when connecting to networks with user configured subnets',
        );
      allocate(pool, new Set(), ipv4, n.Name);
    }
    const links =
      n.Driver === 'bridge' && this.#isDefault(n)
        ? (c.config.HostConfig?.Links ?? [])
        : (cfg.Links ?? []);
    return {
      networkId: n.Id,
      aliases,
      ...(ipv4 ? { ipv4 } : {}),
      ...(ipv6 ? { ipv6 } : {}),
      links,
      endpointId: newId(),
    };
  }

  async create(c: NetContainer): Promise<void> {
    const mode = modeOf(c);
    const eps = endpointsConfigOf(c);
    const attachments: Record<string, Attachment> = {};
    if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) {
      if (
        Object.keys(c.config.HostConfig?.PortBindings ?? {}).length > 0 &&
        mode !== 'none' &&
        mode !== 'host'
      )
        throw new InvalidArgumentError(
          'conflicting options: port publishing and the container type network mode',
        );
      if (mode.startsWith('container:') && (c.config.HostConfig?.Links ?? []).length > 0)
        throw new InvalidArgumentError(
          "conflicting options: container type network can't be used with links. This would result in undefined behavior",
        );
    } else {
      const n = this.#find(mode);
      if (n.Driver === 'host' || n.Driver === 'null')
        return this.create({
          ...c,
          config: { ...c.config, HostConfig: { ...c.config.HostConfig, NetworkMode: n.Name } },
        });
      if ((c.config.HostConfig?.Links ?? []).length > 0 && !this.#isDefault(n)) {
        // Legacy links on user networks are name aliases there, as dockerd treats them.
      }
      const given = c.config.HostConfig?.NetworkMode ?? '';
      attachments[n.Name] = this.#attachment(
        n,
        eps[given] ??
          eps[mode] ??
          eps[n.Name] ??
          eps[n.Id] ??
          (this.#isDefault(n) ? eps['default'] : undefined) ??
          {},
        c,
      );
      for (const [key, cfg] of Object.entries(eps)) {
        // `default` is the docker CLI's name for the default network's endpoint.
        if (key === given || key === mode || key === n.Name || key === n.Id) continue;
        if (key === 'default' && this.#isDefault(n)) continue;
        const other = this.#find(key);
        attachments[other.Name] = this.#attachment(other, cfg, c);
      }
    }
    await this.#serial(() =>
      this.#saveSandbox({
        containerId: c.id,
        name: c.name,
        attachments,
        endpoints: {},
        upstreams: [],
      }),
    );
  }

  async sandbox(c: NetContainer): Promise<string | undefined> {
    const mode = modeOf(c);
    if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) return undefined;
    const s = this.#sandboxes.get(c.id);
    if (!s) return undefined;
    const file = path.join(this.#netnsDir, c.id);
    await createNetns(file);
    return file;
  }

  async adopt(c: NetContainer, pid: number): Promise<void> {
    const mode = modeOf(c);
    if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) return;
    if (!this.#sandboxes.get(c.id)) return;
    await adoptNetns(path.join(this.#netnsDir, c.id), pid);
  }

  async connect(
    c: NetContainer & { running: boolean },
    ref: string,
    config: EndpointSettingsRequest,
  ): Promise<void> {
    const mode = modeOf(c);
    if (mode === 'host' || mode === 'none' || mode.startsWith('container:'))
      throw new ForbiddenError(
        `container cannot be disconnected from host network or connected to host network`,
      );
    await this.#serial(async () => {
      const n = this.#find(ref);
      if (n.Driver !== 'bridge' && n.Driver !== 'macvlan')
        throw new ForbiddenError(
          'container cannot be disconnected from host network or connected to host network',
        );
      const s = this.#sandboxes.get(c.id) ?? {
        containerId: c.id,
        name: c.name,
        attachments: {},
        endpoints: {},
        upstreams: [],
      };
      if (Object.values(s.attachments).some((a) => a.networkId === n.Id))
        throw new ForbiddenError(
          `endpoint with name ${c.name} already exists in network ${n.Name}`,
        );
      const a = this.#attachment(n, config, c);
      s.attachments[n.Name] = a;
      await this.#saveSandbox(s);
      if (c.running) {
        try {
          await this.#endpointUp(c, s, n.Name, a);
          await this.#writeEtc(c, s);
        } catch (err: unknown) {
          delete s.attachments[n.Name];
          await this.#saveSandbox(s);
          throw err;
        }
      }
      this.#o.events.publish({
        Type: 'network',
        Action: 'connect',
        id: n.Id,
        attributes: { container: c.id, name: n.Name, type: n.Driver },
      });
    });
  }

  async disconnect(
    c: NetContainer & { running: boolean },
    ref: string,
    force: boolean,
  ): Promise<void> {
    await this.#serial(async () => {
      const s = this.#sandboxes.get(c.id);
      let n: NetworkRecord | undefined;
      try {
        n = this.#find(ref);
      } catch (err: unknown) {
        if (!force || !(err instanceof NotFoundError)) throw err;
      }
      const key = s
        ? Object.keys(s.attachments).find((k) => k === ref || s.attachments[k]?.networkId === n?.Id)
        : undefined;
      if (!s || key === undefined) {
        if (force) return;
        throw new ForbiddenError(`container ${c.id} is not connected to network ${ref}`);
      }
      const a = s.attachments[key] as Attachment;
      const ep = s.endpoints[a.networkId];
      if (ep) await this.#endpointDown(s, ep);
      delete s.attachments[key];
      await this.#saveSandbox(s);
      if (c.running) {
        await this.#sandboxDns(s, path.join(this.#netnsDir, c.id));
        await this.#writeEtc(c, s);
      }
      this.#o.events.publish({
        Type: 'network',
        Action: 'disconnect',
        id: a.networkId,
        attributes: {
          container: c.id,
          name: key,
          type: this.#networks.get(a.networkId)?.Driver ?? 'bridge',
        },
      });
    });
  }

  // ---- containers: endpoints --------------------------------------------------------------

  #leases(networkId: string): Set<string> {
    const out = new Set<string>();
    for (const s of this.#sandboxes.values()) {
      const ep = s.endpoints[networkId];
      if (ep?.ipv4) out.add(ep.ipv4);
      if (ep?.ipv6) out.add(ep.ipv6);
    }
    return out;
  }

  #heldPorts(): PortMapping[] {
    return [...this.#sandboxes.values()].flatMap((s) =>
      Object.values(s.endpoints).flatMap((e) => e.ports),
    );
  }

  /** The container address behind a published host port. */
  #targetOf(m: PortMapping): { ip: string; port: number } | undefined {
    for (const s of this.#sandboxes.values())
      for (const ep of Object.values(s.endpoints))
        for (const p of ep.ports)
          if (p.proto === m.proto && p.hostIp === m.hostIp && p.hostPort === m.hostPort)
            return { ip: ep.ipv4, port: p.containerPort };
    return undefined;
  }

  /** Takes the holds of an endpoint's ports again (a restart); one lost is said, not fatal. */
  async #retakeHolds(ep: Endpoint): Promise<void> {
    for (const m of ep.ports) {
      const why = await this.#holds.take(m).then(
        (ok) => (ok ? '' : 'address already in use'),
        (err: unknown) => (err instanceof Error ? err.message : String(err)),
      );
      // The DNAT still serves the container; only the guard against host processes is lost.
      if (why)
        console.error(
          `berthd: cannot hold published port ${m.hostIp}:${m.hostPort}/${m.proto} of endpoint ${ep.endpointId.slice(0, 12)}: ${why}`,
        );
    }
  }

  #portRulesOf(ep: Endpoint): Rule[] {
    const n = this.#networks.get(ep.networkId);
    if (!n) return [];
    return ep.ports.flatMap((p) =>
      portRules(
        { ...p, containerIp: ep.ipv4, bridge: this.#bridgeOf(n), owner: ep.endpointId },
        this.#tag,
      ),
    );
  }

  /** One endpoint: leased, recorded, then made (veth, rules); undone on failure. */
  async #endpointUp(c: NetContainer, s: SandboxRecord, key: string, a: Attachment): Promise<void> {
    const n = this.#networks.get(a.networkId);
    if (!n) throw new NotFoundError(`network ${key} not found`);
    const netns = path.join(this.#netnsDir, c.id);
    await createNetns(netns);
    const macvlan = n.Driver === 'macvlan';
    // The bridge (or a parent berth made) again, should the host have deleted it meanwhile.
    if (macvlan) await this.#parentUp(n);
    else await this.#bridgeUp(n);
    const pool4 = n.IPAM.Config.find((p) => familyOf(p) === 4);
    const pool6 = n.EnableIPv6 ? n.IPAM.Config.find((p) => familyOf(p) === 6) : undefined;
    if (!pool4) throw new InvalidArgumentError(`network ${n.Name} has no IPv4 pool`);
    const leases = this.#leases(n.Id);
    const ipv4 = allocate(pool4, leases, a.ipv4, n.Name);
    const ipv6 = pool6 ? allocate(pool6, leases, a.ipv6, n.Name) : '';
    const first = Object.keys(s.endpoints).length === 0;
    // Ports are published on the container's first network, as dockerd's gateway endpoint.
    const h = c.config.HostConfig;
    // macvlan publishes nothing: its endpoints sit on the parent's own segment, as dockerd's.
    const ports =
      first && !n.Internal && !macvlan
        ? await allocatePorts(
            portRequests(
              h?.PortBindings ?? undefined,
              c.config.ExposedPorts ?? undefined,
              h?.PublishAllPorts === true,
              n.Options[opt.hostIp] ?? '0.0.0.0',
            ),
            {
              held: this.#heldPorts(),
              ephemeral: this.#ephemeral,
              take: (m) => this.#holds.take(m),
              release: (m) => this.#holds.release(m),
            },
          ).catch((err: unknown) => {
            throw connectivityError(err, c.name, a.endpointId);
          })
        : [];
    const index = s.nextIfIndex ?? Object.keys(s.endpoints).length;
    s.nextIfIndex = index + 1;
    const ifname = `eth${index}`;
    // An internal macvlan network has no gateway at all (dockerd sets none for its endpoints).
    const routed = !(macvlan && n.Internal);
    const ep: Endpoint = {
      networkId: n.Id,
      endpointId: a.endpointId,
      veth: macvlan ? '' : `bv${a.endpointId.slice(0, 11)}`,
      ifname,
      ipv4,
      prefix: prefixLength(pool4),
      gateway: routed ? gatewayOf(pool4) : '',
      ipv6,
      prefix6: pool6 ? prefixLength(pool6) : 0,
      gateway6: pool6 && routed ? gatewayOf(pool6) : '',
      mac: macFor(ipv4),
      ports,
    };
    s.endpoints[n.Id] = ep;
    s.name = c.name;
    const addresses = [`${ipv4}/${ep.prefix}`, ...(ipv6 ? [`${ipv6}/${ep.prefix6}`] : [])];
    const routes = {
      ...(first && !n.Internal ? { gateway: ep.gateway } : {}),
      ...(first && ipv6 && !n.Internal ? { gateway6: ep.gateway6 } : {}),
    };
    try {
      // Recorded before anything but the port holds exists: a crash from here on is undone
      // by the next start (the holds die with the process).
      await this.#saveSandbox(s);
      if (macvlan) {
        await addMacvlan({
          parent: parentOf(n),
          mode: macvlanModeOf(n.Options),
          netns,
          ifname,
          mac: ep.mac,
          addresses,
          ...routes,
        });
      } else {
        await addVeth({
          host: ep.veth,
          bridge: this.#bridgeOf(n),
          netns,
          ifname,
          mac: ep.mac,
          mtu: Number(n.Options[opt.mtu] ?? 1500) || 1500,
          addresses,
          ...routes,
        });
      }
      await addRules(this.#portRulesOf(ep));
      await this.#sandboxDns(s, netns);
    } catch (err: unknown) {
      await this.#endpointDown(s, ep);
      throw err;
    }
  }

  /**
   * The sandbox's embedded resolver, as dockerd's: while the container has an endpoint on a
   * DNS-enabled network, UDP and TCP sockets on 127.0.0.11 inside its namespace (free ports)
   * served by berthd, with the namespace's nat table sending 127.0.0.11:53 to them. The same
   * for bridge and macvlan networks: nothing of it depends on an address on the host. Closed
   * (and the table emptied) when the last such endpoint goes.
   */
  async #sandboxDns(s: SandboxRecord, netns: string): Promise<void> {
    const wanted = Object.values(s.endpoints).some((e) =>
      this.#dnsEnabled(this.#networks.get(e.networkId)),
    );
    const have = this.#resolvers.get(s.containerId);
    if (wanted && have) return;
    if (!wanted) {
      if (!have) return;
      await this.#closeResolver(s.containerId);
      await iptablesRestore(sandboxDnsScript(), { netns, flush: true }).catch(() => undefined);
      return;
    }
    const server = await this.#openResolver(s.containerId, netns);
    if (!server) return;
    try {
      await iptablesRestore(sandboxDnsScript({ udpPort: server.port, tcpPort: server.tcpPort }), {
        netns,
        flush: true,
      });
    } catch (err: unknown) {
      await this.#closeResolver(s.containerId);
      throw err;
    }
  }

  async #openResolver(containerId: string, netns: string): Promise<DnsServer | undefined> {
    const dns = this.#dnsModule;
    if (!dns) return undefined;
    const udp = native().netnsSocket(netns, 'udp', '127.0.0.11', 0);
    let tcp: number;
    try {
      tcp = native().netnsSocket(netns, 'tcp', '127.0.0.11', 0);
    } catch (err: unknown) {
      closeSync(udp);
      throw err;
    }
    // Every query comes from the sandbox's loopback: the sandbox is the client, seen through
    // its current endpoints' address.
    const client = (): string => {
      const eps = Object.values(this.#sandboxes.get(containerId)?.endpoints ?? {});
      return eps.find((e) => e.ipv4)?.ipv4 ?? '';
    };
    const names = this.#dnsNames();
    const server = await dns.startDnsServer({
      address: '127.0.0.11',
      fds: { udp, tcp },
      names: {
        resolve: (_c, name, type) => names.resolve(client(), name, type),
        reverse: (_c, ip) => names.reverse(client(), ip),
      },
      upstreams: () => this.#sandboxes.get(containerId)?.upstreams ?? [],
    });
    this.#resolvers.set(containerId, server);
    return server;
  }

  /** Closes the sandbox's resolver: its sockets no longer hold the namespace. */
  async #closeResolver(containerId: string): Promise<void> {
    const r = this.#resolvers.get(containerId);
    this.#resolvers.delete(containerId);
    await r?.close().catch(() => undefined);
  }

  async #endpointDown(s: SandboxRecord, ep: Endpoint): Promise<void> {
    await deleteRules(this.#portRulesOf(ep));
    for (const m of ep.ports) await this.#holds.release(m);
    if (ep.veth) await deleteLink(ep.veth);
    // Taken out of the namespace now, not when the namespace is freed: the kernel frees it
    // later, and meanwhile the parent would refuse the same MAC to the next endpoint.
    if (!ep.veth && ep.ifname)
      await deleteLinkIn(path.join(this.#netnsDir, s.containerId), ep.ifname);
    delete s.endpoints[ep.networkId];
    await this.#saveSandbox(s);
  }

  async up(c: NetContainer): Promise<void> {
    await this.#serial(async () => {
      const s = this.#sandboxes.get(c.id);
      if (!s) return;
      for (const ep of Object.values(s.endpoints)) await this.#endpointDown(s, ep);
      s.nextIfIndex = 0;
      try {
        for (const [key, a] of startOrder(s, modeOf(c))) {
          if (!this.#networks.has(a.networkId)) throw new NotFoundError(`network ${key} not found`);
          await this.#endpointUp(c, s, key, a);
        }
        // Host and none modes keep the files written at create (the host's own, or no address).
        if (Object.keys(s.endpoints).length > 0) await this.#writeEtc(c, s);
        if (
          Object.keys(s.endpoints).length > 0 &&
          !Object.values(s.endpoints).some((e) => e.ipv6)
        ) {
          // As dockerd: no IPv6 in a sandbox whose networks have none.
          await sandboxSysctl(
            path.join(this.#netnsDir, c.id),
            'net.ipv6.conf.all.disable_ipv6',
            '1',
          );
        }
      } catch (err: unknown) {
        for (const ep of Object.values(s.endpoints)) await this.#endpointDown(s, ep);
        await this.#closeResolver(c.id);
        throw err;
      }
    });
  }

  async down(containerId: string): Promise<void> {
    await this.#serial(async () => {
      const s = this.#sandboxes.get(containerId);
      if (!s) return;
      for (const ep of Object.values(s.endpoints)) await this.#endpointDown(s, ep);
      await this.#closeResolver(containerId);
      // The sandbox lives as long as a task: the next task makes it again, as dockerd's.
      await deleteNetns(path.join(this.#netnsDir, containerId));
    });
  }

  async remove(containerId: string): Promise<void> {
    await this.down(containerId);
    await this.#serial(async () => {
      await deleteNetns(path.join(this.#netnsDir, containerId));
      await fs.rm(path.join(this.#o.root, 'containers', `${containerId}.json`), { force: true });
      this.#sandboxes.delete(containerId);
    });
  }

  // ---- /etc files -------------------------------------------------------------------------

  #links(c: NetContainer, s: SandboxRecord): { names: string[]; ip: string }[] {
    const out: { names: string[]; ip: string }[] = [];
    for (const a of Object.values(s.attachments)) {
      const n = this.#networks.get(a.networkId);
      if (!n || !this.#isDefault(n)) continue;
      for (const l of a.links) {
        const [target = '', alias] = l.split(':');
        const name = target.replace(/^\//, '');
        const alias0 = (alias ?? name).split('/').pop() ?? name;
        const other = [...this.#sandboxes.values()].find(
          (o) => o.name === name || o.containerId === name || o.containerId.startsWith(name),
        );
        const ep = other?.endpoints[n.Id];
        if (!other || !ep) continue;
        out.push({
          names: [...new Set([alias0, other.containerId.slice(0, 12), other.name])],
          ip: ep.ipv4,
        });
      }
    }
    void c;
    return out;
  }

  async #writeEtc(c: NetContainer, s: SandboxRecord): Promise<void> {
    const eps = Object.values(s.endpoints);
    const hostname = c.config.Hostname ?? c.id.slice(0, 12);
    const addresses = eps.flatMap((e) => [e.ipv4, ...(e.ipv6 ? [e.ipv6] : [])]).filter(Boolean);
    const extra = c.config.HostConfig?.ExtraHosts ?? [];
    const embedded = this.#resolvers.has(s.containerId);
    const gateway = eps[0]?.gateway ?? '';
    const etc = this.#etcModule;
    let hosts: string;
    if (etc) {
      hosts = etc.buildHosts({
        hostname,
        ...(c.config.Domainname ? { domainname: c.config.Domainname } : {}),
        addresses,
        extraHosts: etc.resolveExtraHosts(extra, gateway),
        links: this.#links(c, s),
        // dockerd writes the IPv6 loopback lines even where the sandbox has IPv6 off.
        ipv6: true,
      });
      const host = await fs.readFile(hostResolvConfPath, 'utf8').catch(() => '');
      const rc = etc.buildResolvConf({
        hostResolvConf: host,
        dns: c.config.HostConfig?.Dns ?? [],
        dnsSearch: c.config.HostConfig?.DnsSearch ?? [],
        dnsOptions: c.config.HostConfig?.DnsOptions ?? [],
        embedded,
      });
      await fs.writeFile(c.resolvConfPath, rc.content);
      if (s.upstreams.join() !== rc.upstreams.join()) {
        s.upstreams = rc.upstreams;
        await this.#saveSandbox(s);
      }
    } else {
      hosts = plainHosts({ hostname, addresses, extraHosts: extra, links: this.#links(c, s) });
    }
    // In place, not by rename: the running container has the file's inode bind-mounted.
    await fs.writeFile(c.hostsPath, hosts);
  }

  // ---- DNS names --------------------------------------------------------------------------

  #dnsNames(): DnsNames {
    return endpointNames(
      () => this.#sandboxes.values(),
      (id) => {
        const n = this.#networks.get(id);
        return n && this.#dnsEnabled(n) ? n.Name : undefined;
      },
    );
  }

  // ---- views ------------------------------------------------------------------------------

  #networksView(s: SandboxRecord | undefined): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, a] of Object.entries(s?.attachments ?? {})) {
      const ep = s?.endpoints[a.networkId];
      const n = this.#networks.get(a.networkId);
      const user = n !== undefined && !this.#isDefault(n);
      out[key] = {
        IPAMConfig:
          a.ipv4 || a.ipv6
            ? {
                ...(a.ipv4 ? { IPv4Address: a.ipv4 } : {}),
                ...(a.ipv6 ? { IPv6Address: a.ipv6 } : {}),
              }
            : null,
        Links: a.links.length > 0 && !user ? null : a.links.length > 0 ? a.links : null,
        Aliases: user ? [...a.aliases, s?.containerId.slice(0, 12) ?? ''] : null,
        NetworkID: a.networkId,
        EndpointID: ep?.endpointId ?? '',
        Gateway: ep?.gateway ?? '',
        IPAddress: ep?.ipv4 ?? '',
        IPPrefixLen: ep?.prefix ?? 0,
        IPv6Gateway: ep?.gateway6 ?? '',
        GlobalIPv6Address: ep?.ipv6 ?? '',
        GlobalIPv6PrefixLen: ep?.prefix6 ?? 0,
        MacAddress: ep?.mac ?? '',
        DriverOpts: null,
      };
    }
    return out;
  }

  settings(c: NetContainer): Record<string, unknown> {
    const s = this.#sandboxes.get(c.id);
    const mode = modeOf(c);
    const eps = Object.values(s?.endpoints ?? {});
    const running = eps.length > 0;
    const bridgeNet = [...this.#networks.values()].find((n) => this.#isDefault(n));
    const main = bridgeNet ? s?.endpoints[bridgeNet.Id] : undefined;
    const ports = eps.flatMap((e) => e.ports);
    let networks = this.#networksView(s);
    if (mode === 'host' || mode === 'none') {
      const n = this.#find(mode);
      networks = {
        [mode]: {
          IPAMConfig: null,
          Links: null,
          Aliases: null,
          NetworkID: n.Id,
          EndpointID: '',
          Gateway: '',
          IPAddress: '',
          IPPrefixLen: 0,
          IPv6Gateway: '',
          GlobalIPv6Address: '',
          GlobalIPv6PrefixLen: 0,
          MacAddress: '',
          DriverOpts: null,
        },
      };
    }
    return {
      Bridge: '',
      SandboxID: running ? createHash('sha256').update(c.id).digest('hex') : '',
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      Ports:
        running || mode === 'bridge' ? portsView(c.config.ExposedPorts ?? undefined, ports) : {},
      SandboxKey: running ? path.join(this.#netnsDir, c.id) : '',
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      EndpointID: main?.endpointId ?? '',
      Gateway: main?.gateway ?? '',
      GlobalIPv6Address: main?.ipv6 ?? '',
      GlobalIPv6PrefixLen: main?.prefix6 ?? 0,
      IPAddress: main?.ipv4 ?? '',
      IPPrefixLen: main?.prefix ?? 0,
      IPv6Gateway: main?.gateway6 ?? '',
      MacAddress: main?.mac ?? '',
      Networks: networks,
    };
  }

  summary(c: NetContainer): {
    Ports: unknown[];
    NetworkSettings: { Networks: Record<string, unknown> };
  } {
    const s = this.#sandboxes.get(c.id);
    const mappings = Object.values(s?.endpoints ?? {}).flatMap((e) => e.ports);
    const ports: unknown[] = mappings.map((m) => ({
      IP: m.hostIp,
      PrivatePort: m.containerPort,
      PublicPort: m.hostPort,
      Type: m.proto,
    }));
    const view = portsView(c.config.ExposedPorts ?? undefined, []);
    for (const key of Object.keys(view)) {
      const [p = '', proto = 'tcp'] = key.split('/');
      if (!mappings.some((m) => `${m.containerPort}/${m.proto}` === key))
        ports.push({ PrivatePort: Number(p), Type: proto });
    }
    return {
      Ports: ports,
      NetworkSettings: {
        Networks: (this.settings(c)['Networks'] ?? {}) as Record<string, unknown>,
      },
    };
  }

  // ---- reconcile ---------------------------------------------------------------------------

  async reconcile(containers: readonly (NetContainer & { running: boolean })[]): Promise<void> {
    await this.#serial(async () => {
      const byId = new Map(containers.map((c) => [c.id, c]));
      for (const s of [...this.#sandboxes.values()]) {
        const c = byId.get(s.containerId);
        if (!c) {
          for (const ep of Object.values(s.endpoints)) await this.#endpointDown(s, ep);
          await deleteNetns(path.join(this.#netnsDir, s.containerId));
          await fs.rm(path.join(this.#o.root, 'containers', `${s.containerId}.json`), {
            force: true,
          });
          this.#sandboxes.delete(s.containerId);
          continue;
        }
        if (!c.running) {
          for (const ep of Object.values(s.endpoints)) await this.#endpointDown(s, ep);
          await deleteNetns(path.join(this.#netnsDir, s.containerId));
        }
      }
      for (const file of await listNetns(this.#netnsDir)) {
        if (!this.#sandboxes.has(path.basename(file))) await deleteNetns(file);
      }
      // Links on our bridges that no live endpoint owns.
      const bridges = new Set(
        [...this.#networks.values()]
          .filter((n) => n.Driver === 'bridge')
          .map((n) => this.#bridgeOf(n)),
      );
      const veths = new Set(
        [...this.#sandboxes.values()].flatMap((s) => Object.values(s.endpoints).map((e) => e.veth)),
      );
      for (const l of await listLinks()) {
        if (l.master && bridges.has(l.master) && !veths.has(l.name)) await deleteLink(l.name);
      }
      // Rules: those of this daemon's tag match exactly what networks and endpoints need.
      const want: Rule[] = [];
      for (const n of this.#networks.values())
        if (n.Driver === 'bridge') want.push(...bridgeRules(this.#ruleInput(n), this.#tag));
      for (const s of this.#sandboxes.values())
        for (const ep of Object.values(s.endpoints)) want.push(...this.#portRulesOf(ep));
      const norm = (r: Rule): string => `${r.table} ${r.chain} ${r.spec.replaceAll('"', '')}`;
      const have = taggedRules(await iptablesSave(), this.#tag);
      const wanted = new Set(want.map(norm));
      const present = new Set(have.map((h) => norm(h.rule)));
      await deleteRules(have.filter((h) => !wanted.has(norm(h.rule))).map((h) => h.rule));
      await addRules(want.filter((r) => !present.has(norm(r))));
      // Published ports of running containers are held again, as before the restart.
      for (const s of this.#sandboxes.values())
        for (const ep of Object.values(s.endpoints)) await this.#retakeHolds(ep);
      // Sandboxes of running containers point their DNS at this start's servers.
      for (const s of this.#sandboxes.values()) {
        if (Object.keys(s.endpoints).length > 0)
          await this.#sandboxDns(s, path.join(this.#netnsDir, s.containerId)).catch(
            () => undefined,
          );
      }
    });
  }

  async close(): Promise<void> {
    await this.#holds.close();
    for (const id of [...this.#resolvers.keys()]) await this.#closeResolver(id);
  }
}

/** The tag of a berthd's iptables rules: its network root, hashed (several may share a host). */
export function daemonTag(networkRoot: string): string {
  return createHash('sha256').update(path.resolve(networkRoot)).digest('hex').slice(0, 8);
}

/** The network service, with networks loaded, the predefined ones made and bridges up. */
export async function newNetworkService(options: NetworkServiceOptions): Promise<NetworkService> {
  const s = new Service(options);
  await s.open();
  return s;
}
