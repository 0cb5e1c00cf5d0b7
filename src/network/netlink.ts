import { promises as fs } from 'node:fs';
import path from 'node:path';
import { errnoCode, isNotFound, SystemError } from '../errors/index.js';
import { run } from '../util/exec.js';
import { restoreScript, type Rule } from './rules.js';

/**
 * The system adapter of the network service: links, addresses, routes and namespaces through
 * iproute2, util-linux and iptables. Every function acts on names it is given and nothing else.
 */

export interface LinkInfo {
  name: string;
  master?: string;
  kind?: string;
}

export async function listLinks(): Promise<LinkInfo[]> {
  const { stdout } = await run('ip', ['-j', '-d', 'link', 'show']);
  const parsed = JSON.parse(stdout || '[]') as {
    ifname: string;
    master?: string;
    linkinfo?: { info_kind?: string };
  }[];
  return parsed.map((l) => ({
    name: l.ifname,
    ...(l.master ? { master: l.master } : {}),
    ...(l.linkinfo?.info_kind ? { kind: l.linkinfo.info_kind } : {}),
  }));
}

/** IPv4 prefixes routed on the host (`ip route`), as CIDR strings. */
export async function routedSubnets(): Promise<string[]> {
  const { stdout } = await run('ip', ['-j', '-4', 'route', 'show']);
  const parsed = JSON.parse(stdout || '[]') as { dst: string }[];
  return parsed.map((r) => r.dst).filter((d) => d !== 'default' && d.includes('/'));
}

/** The IPv4 addresses (with prefix) of a link; undefined when it does not exist. */
export async function linkAddresses(name: string): Promise<string[] | undefined> {
  const r = await run('ip', ['-j', '-4', 'addr', 'show', 'dev', name], { allowFailure: true });
  if (r.code !== 0) return undefined;
  const parsed = JSON.parse(r.stdout || '[]') as {
    addr_info?: { local: string; prefixlen: number }[];
  }[];
  return (parsed[0]?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`);
}

async function ipBatch(commands: readonly string[], netns?: string): Promise<void> {
  if (commands.length === 0) return;
  const input = `${commands.join('\n')}\n`;
  const r = netns
    ? await run('nsenter', [`--net=${netns}`, 'ip', '-batch', '-'], { input, allowFailure: true })
    : await run('ip', ['-batch', '-'], { input, allowFailure: true });
  if (r.code === 0) return;
  // ip ends with `Command failed -:<line>`: name that command, with the kernel's answer.
  const lines = r.stderr.trim().split('\n');
  const at = /^Command failed -:(\d+)$/.exec(lines.at(-1) ?? '');
  const answer = lines.filter((l) => !l.startsWith('Command failed')).join('; ');
  const command = at ? commands[Number(at[1]) - 1] : undefined;
  throw new SystemError(
    `ip ${command ?? '-batch'}${netns ? ` (in ${path.basename(netns).slice(0, 12)})` : ''}: ${answer || `exit ${r.code}`}`,
  );
}

async function sysctl(key: string, value: string, netns?: string): Promise<void> {
  const file = `/proc/sys/${key.replaceAll('.', '/')}`;
  if (!netns) {
    await fs.writeFile(file, value);
    return;
  }
  await run('nsenter', [`--net=${netns}`, 'sh', '-c', `echo ${value} > ${file}`]);
}

/**
 * A bridge with the gateway addresses, up; made when missing, addresses added when missing.
 * route_localnet lets DNATed 127.0.0.1 traffic (published ports) route onto it.
 */
export async function ensureBridge(
  name: string,
  addresses: readonly string[],
  mtu: number,
): Promise<void> {
  const exists = await linkAddresses(name);
  const cmds: string[] = [];
  if (exists === undefined) cmds.push(`link add name ${name} type bridge`);
  if (mtu > 0) cmds.push(`link set dev ${name} mtu ${mtu}`);
  for (const a of addresses) {
    if (!(exists ?? []).includes(a)) cmds.push(`addr add ${a} dev ${name}`);
  }
  cmds.push(`link set dev ${name} up`);
  await ipBatch(cmds);
  await freezeMac(name);
  await sysctl(`net.ipv4.conf.${name}.route_localnet`, '1');
}

/**
 * Makes a bridge's MAC address its own (addr_assign_type 3, "set"), as dockerd's bridge
 * driver does. A bridge whose address the kernel chose takes the lowest MAC of its ports,
 * so a veth joining can change it, and every container's ARP entry for the gateway then
 * names a MAC nobody has until it is probed again: seconds in which what a container sends
 * to the gateway (the embedded DNS) is lost. The current address is kept, so bridges of an
 * earlier start with containers on them do not change either.
 */
async function freezeMac(name: string): Promise<void> {
  const dir = `/sys/class/net/${name}`;
  const type = (await fs.readFile(`${dir}/addr_assign_type`, 'utf8')).trim();
  if (type === '3') return;
  const mac = (await fs.readFile(`${dir}/address`, 'utf8')).trim();
  await run('ip', ['link', 'set', 'dev', name, 'address', mac]);
}

export async function addAddress6(name: string, address: string): Promise<void> {
  await run('ip', ['-6', 'addr', 'replace', address, 'dev', name]);
}

export async function deleteLink(name: string): Promise<void> {
  await run('ip', ['link', 'delete', 'dev', name], { allowFailure: true });
}

/** The directory of the sandboxes' netns files (each file a bind mount of an nsfs inode). */
export async function prepareNetnsDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o711 });
}

/** A persistent network namespace at `file` with lo up; kept when it already is one. */
export async function createNetns(file: string): Promise<void> {
  if (await isNetns(file)) return;
  await fs.writeFile(file, '', { flag: 'a' });
  try {
    await run('unshare', [`--net=${file}`, 'true']);
    await ipBatch(['link set dev lo up'], file);
  } catch (err: unknown) {
    await deleteNetns(file);
    throw err;
  }
}

/** Binds the network namespace of process `pid` at `file`, with lo up, as createNetns would. */
export async function adoptNetns(file: string, pid: number): Promise<void> {
  if (await isNetns(file)) await deleteNetns(file);
  await fs.writeFile(file, '', { flag: 'a' });
  try {
    await run('mount', ['--bind', `/proc/${pid}/ns/net`, file]);
    await ipBatch(['link set dev lo up'], file);
  } catch (err: unknown) {
    await deleteNetns(file);
    throw err;
  }
}

async function isNetns(file: string): Promise<boolean> {
  const mounts = await fs.readFile('/proc/self/mountinfo', 'utf8');
  return mounts.split('\n').some((l) => l.split(' ')[4] === file);
}

export async function deleteNetns(file: string): Promise<void> {
  await run('umount', [file], { allowFailure: true });
  try {
    await fs.rm(file, { force: true });
  } catch (err: unknown) {
    if (errnoCode(err) !== 'EBUSY') throw err;
    await run('umount', ['-l', file], { allowFailure: true });
    await fs.rm(file, { force: true });
  }
}

/** The netns files in `dir`. */
export async function listNetns(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).map((n) => path.join(dir, n));
  } catch (err: unknown) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

export interface VethPlan {
  /** Host side name, enslaved to `bridge`. */
  host: string;
  bridge: string;
  netns: string;
  /** Name inside the sandbox (eth0, eth1...). */
  ifname: string;
  mac: string;
  mtu: number;
  /** `ip/prefix` addresses inside. */
  addresses: string[];
  /** The default route's gateway, when this endpoint gives the sandbox its default route. */
  gateway?: string;
  gateway6?: string;
}

/** A veth pair: one end in the bridge, the other in the sandbox with its addresses and route. */
export async function addVeth(p: VethPlan): Promise<void> {
  const tmp = `bt${p.host.slice(2)}`;
  await ipBatch([
    `link add name ${p.host} mtu ${p.mtu} txqueuelen 0 type veth peer name ${tmp} mtu ${p.mtu} txqueuelen 0`,
    `link set dev ${p.host} master ${p.bridge}`,
    `link set dev ${p.host} up`,
    `link set dev ${tmp} netns ${p.netns}`,
  ]).catch(async (err: unknown) => {
    await deleteLink(p.host);
    throw err;
  });
  const inside = [
    `link set dev ${tmp} name ${p.ifname}`,
    `link set dev ${p.ifname} address ${p.mac}`,
    ...addressing(p),
  ];
  try {
    await ipBatch(inside, p.netns);
  } catch (err: unknown) {
    await deleteLink(p.host);
    throw err;
  }
}

/** Runs an iptables-restore --noflush script on the host (or inside a sandbox). */
export async function iptablesRestore(
  script: string,
  options: { netns?: string; flush?: boolean } = {},
): Promise<void> {
  if (!script) return;
  const args = options.flush ? [] : ['--noflush'];
  const r = options.netns
    ? await run('nsenter', [`--net=${options.netns}`, 'iptables-restore', ...args], {
        input: script,
        allowFailure: true,
      })
    : await run('iptables-restore', ['-w', ...args], { input: script, allowFailure: true });
  if (r.code !== 0)
    throw new SystemError(
      `iptables-restore failed: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`,
    );
}

export async function addRules(rules: readonly Rule[]): Promise<void> {
  await iptablesRestore(restoreScript(rules, '-A'));
}

/** Deletes rules one script per rule: a rule already gone must not keep the others. */
export async function deleteRules(rules: readonly Rule[]): Promise<void> {
  if (rules.length === 0) return;
  try {
    await iptablesRestore(restoreScript(rules, '-D'));
  } catch {
    for (const r of rules) await iptablesRestore(restoreScript([r], '-D')).catch(() => undefined);
  }
}

export async function iptablesSave(): Promise<string> {
  const { stdout } = await run('iptables-save', []);
  return stdout;
}

/**
 * berth's chains and the jumps into them, created when missing (one iptables-save, one
 * iptables-restore --noflush); Docker's chains and rules are left as they are.
 */
export async function ensureChains(
  chains: Record<'filter' | 'nat', readonly string[]>,
  jumps: readonly { table: string; chain: string; spec: string; first: boolean }[],
): Promise<void> {
  const save = await iptablesSave();
  const have = new Map<string, { chains: Set<string>; rules: Set<string> }>();
  let table = '';
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) {
      table = line.slice(1).trim();
      have.set(table, { chains: new Set(), rules: new Set() });
    } else if (line.startsWith(':')) have.get(table)?.chains.add(line.slice(1).split(' ')[0] ?? '');
    else if (line.startsWith('-A ')) have.get(table)?.rules.add(line.slice(3).trim());
  }
  const lines: string[] = [];
  for (const t of ['filter', 'nat'] as const) {
    const h = have.get(t);
    const body: string[] = [];
    for (const name of chains[t]) if (!h?.chains.has(name)) body.push(`:${name} - [0:0]`);
    for (const j of jumps) {
      if (j.table !== t || h?.rules.has(`${j.chain} ${j.spec}`)) continue;
      body.push(j.first ? `-I ${j.chain} 1 ${j.spec}` : `-A ${j.chain} ${j.spec}`);
    }
    if (body.length > 0) lines.push(`*${t}`, ...body, 'COMMIT');
  }
  if (lines.length > 0) await iptablesRestore(`${lines.join('\n')}\n`);
}

export async function setIpForward(): Promise<void> {
  const cur = await fs.readFile('/proc/sys/net/ipv4/ip_forward', 'utf8').catch(() => '');
  if (cur.trim() !== '1') await fs.writeFile('/proc/sys/net/ipv4/ip_forward', '1');
}

export async function sandboxSysctl(netns: string, key: string, value: string): Promise<void> {
  await sysctl(key, value, netns);
}

/**
 * The host's ephemeral port range, where random host ports come from, as dockerd's port
 * allocator takes it (and its fallback where the file is unreadable).
 */
export async function ephemeralRange(): Promise<[number, number]> {
  const text = await fs.readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '');
  const [lo, hi] = text.trim().split(/\s+/).map(Number);
  return lo && hi ? [lo, hi] : [49153, 60999];
}

/** iproute2's words for a refused link, as the errno text dockerd's netlink library gives. */
function linkError(stderr: string): string {
  const text = stderr.trim().replace(/^Error: /, '');
  // iproute2 says this when the kernel answers EOPNOTSUPP (no driver for that kind).
  return /^Unknown device type\.?$/.test(text) ? 'operation not supported' : text;
}

/**
 * A parent link for macvlan networks, made and brought up: a dummy (no `-o parent` given) or
 * a VLAN sub-interface of `link`. Throws SystemError with dockerd's words; nothing is left
 * when it fails.
 */
export async function addParentLink(
  p: { kind: 'dummy'; name: string } | { kind: 'vlan'; name: string; link: string; vlanId: number },
): Promise<void> {
  const args =
    p.kind === 'dummy'
      ? ['link', 'add', 'name', p.name, 'type', 'dummy']
      : ['link', 'add', 'link', p.link, 'name', p.name, 'type', 'vlan', 'id', String(p.vlanId)];
  const r = await run('ip', args, { allowFailure: true });
  if (r.code !== 0) {
    const why = linkError(r.stderr);
    throw new SystemError(
      p.kind === 'dummy' ? why : `failed to create ${p.name} vlan link: ${why}`,
    );
  }
  const up = await run('ip', ['link', 'set', 'dev', p.name, 'up'], { allowFailure: true });
  if (up.code !== 0) {
    await deleteLink(p.name);
    throw new SystemError(
      `failed to enable ${p.name} the macvlan parent link: ${linkError(up.stderr)}`,
    );
  }
}

export interface MacvlanPlanLink {
  parent: string;
  mode: 'bridge' | 'private' | 'vepa' | 'passthru';
  netns: string;
  /** Name inside the sandbox (eth0, eth1...). */
  ifname: string;
  mac: string;
  addresses: string[];
  gateway?: string;
  gateway6?: string;
}

/**
 * A macvlan sub-interface of `parent`, made directly inside the sandbox (it never exists in
 * the host's namespace, so a crash cannot leave it there), with its addresses and route.
 * Gone when the sandbox's namespace goes; {@link deleteLinkIn} takes it away before that.
 */
export async function addMacvlan(p: MacvlanPlanLink): Promise<void> {
  const r = await run(
    'ip',
    [
      'link',
      'add',
      'link',
      p.parent,
      'name',
      p.ifname,
      'netns',
      p.netns,
      'address',
      p.mac,
      // As dockerd's netlink library makes it: no queue length of its own.
      'txqueuelen',
      '0',
      'type',
      'macvlan',
      'mode',
      p.mode,
    ],
    { allowFailure: true },
  );
  if (r.code !== 0)
    throw new SystemError(`failed to create the macvlan port: ${linkError(r.stderr)}`);
  try {
    await ipBatch(addressing(p), p.netns);
  } catch (err: unknown) {
    await deleteLinkIn(p.netns, p.ifname);
    throw err;
  }
}

/** `ip -batch` lines that give a container's interface its addresses and default routes. */
function addressing(p: {
  ifname: string;
  addresses: string[];
  gateway?: string;
  gateway6?: string;
}): string[] {
  const lines = [
    // No duplicate address detection for IPv6: IPAM already made the address unique.
    ...p.addresses.map(
      (a) => `addr add ${a}${a.includes(':') ? ' nodad' : ' brd +'} dev ${p.ifname}`,
    ),
    `link set dev ${p.ifname} up`,
  ];
  if (p.gateway) lines.push(`route replace default via ${p.gateway} dev ${p.ifname}`);
  if (p.gateway6) lines.push(`route replace default via ${p.gateway6} dev ${p.ifname}`);
  return lines;
}

/** Deletes a link inside a sandbox's namespace; nothing when the namespace or link is gone. */
export async function deleteLinkIn(netns: string, name: string): Promise<void> {
  if (!(await isNetns(netns))) return;
  await run('nsenter', [`--net=${netns}`, 'ip', 'link', 'delete', 'dev', name], {
    allowFailure: true,
  });
}

/** Whether a link of that name exists in the host's namespace. */
export async function linkExists(name: string): Promise<boolean> {
  const r = await run('ip', ['link', 'show', 'dev', name], { allowFailure: true });
  return r.code === 0;
}
