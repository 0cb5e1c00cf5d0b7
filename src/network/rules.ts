import type { PortMapping } from './ports.js';

/**
 * iptables rules, pure: what berth's networks and published ports need, in berth's own
 * chains, mirroring Docker's design (DOCKER, DOCKER-ISOLATION-STAGE-1/2, the FORWARD accepts,
 * MASQUERADE in POSTROUTING, DNAT for published ports) without touching Docker's chains.
 *
 * Every rule of a chain is independent of the order of the others (accepts and drops on
 * disjoint matches, DNATs on distinct ports), so rules are added and deleted one by one,
 * and several berthd (each with its own tag) can share the chains. Each rule carries the
 * comment `berth:<tag>:<owner>`: a restart finds and deletes every rule of its tag whose
 * owner no longer exists.
 */

export type Table = 'filter' | 'nat';

export interface Rule {
  table: Table;
  chain: string;
  /** The rule after `-A <chain>`, comment included. */
  spec: string;
}

export const chains = {
  filter: ['BERTH-FORWARD', 'BERTH-ISOLATION-STAGE-1', 'BERTH-ISOLATION-STAGE-2', 'BERTH'],
  nat: ['BERTH', 'BERTH-POSTROUTING'],
} as const;

/** Jumps from the built-in chains into berth's, kept once per host and never removed. */
export const jumps: readonly { table: Table; chain: string; spec: string; first: boolean }[] = [
  { table: 'filter', chain: 'FORWARD', spec: '-j BERTH-FORWARD', first: true },
  // Inserted after, so above: isolation is decided before any accept.
  { table: 'filter', chain: 'FORWARD', spec: '-j BERTH-ISOLATION-STAGE-1', first: true },
  {
    table: 'nat',
    chain: 'PREROUTING',
    spec: '-m addrtype --dst-type LOCAL -j BERTH',
    first: false,
  },
  { table: 'nat', chain: 'OUTPUT', spec: '-m addrtype --dst-type LOCAL -j BERTH', first: false },
  { table: 'nat', chain: 'POSTROUTING', spec: '-j BERTH-POSTROUTING', first: false },
];

/** What the rules of one bridge network depend on. */
export interface BridgeRulesInput {
  /** Owner id (the network id). */
  id: string;
  bridge: string;
  /** IPv4 subnets (v6 gets no NAT, as Docker's default). */
  subnets: readonly string[];
  internal: boolean;
  icc: boolean;
  masquerade: boolean;
}

export function commentOf(tag: string, owner: string): string {
  return `berth:${tag}:${owner.slice(0, 12)}`;
}

const c = (tag: string, owner: string): string => `-m comment --comment ${commentOf(tag, owner)}`;

/** The rules a bridge network needs while it exists. */
export function bridgeRules(n: BridgeRulesInput, tag: string): Rule[] {
  const k = c(tag, n.id);
  const b = n.bridge;
  const out: Rule[] = [];
  const f = (chain: string, spec: string): void =>
    void out.push({ table: 'filter', chain, spec: `${spec} ${k}` });
  const nat = (chain: string, spec: string): void =>
    void out.push({ table: 'nat', chain, spec: `${spec} ${k}` });
  // Between containers of the same network: inter-container communication, or not.
  f('BERTH-FORWARD', `-i ${b} -o ${b} -j ${n.icc ? 'ACCEPT' : 'DROP'}`);
  if (n.internal) {
    // No way in or out of an internal network.
    f('BERTH-ISOLATION-STAGE-1', `-i ${b} ! -o ${b} -j DROP`);
    f('BERTH-ISOLATION-STAGE-1', `! -i ${b} -o ${b} -j DROP`);
    return out;
  }
  f('BERTH-ISOLATION-STAGE-1', `-i ${b} ! -o ${b} -j BERTH-ISOLATION-STAGE-2`);
  f('BERTH-ISOLATION-STAGE-2', `-o ${b} -j DROP`);
  f('BERTH-FORWARD', `-o ${b} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
  f('BERTH-FORWARD', `-o ${b} -j BERTH`);
  f('BERTH-FORWARD', `-i ${b} ! -o ${b} -j ACCEPT`);
  if (n.masquerade) {
    for (const s of n.subnets) nat('BERTH-POSTROUTING', `-s ${s} ! -o ${b} -j MASQUERADE`);
  }
  // Host-local sources (127.0.0.1 of a published port, DNATed here with route_localnet).
  nat('BERTH-POSTROUTING', `-o ${b} -m addrtype --src-type LOCAL -j MASQUERADE`);
  return out;
}

/** The rules one published port needs while its container runs. */
export function portRules(
  p: PortMapping & { containerIp: string; bridge: string; owner: string },
  tag: string,
): Rule[] {
  // An IPv6 host address has no IPv4 rule to go in: its port's hold (port-holds.ts) takes
  // the connections and passes TCP on to the container, as docker-proxy does.
  if (p.hostIp.includes(':')) return [];
  const k = c(tag, p.owner);
  const dst = p.hostIp === '0.0.0.0' ? '' : `-d ${p.hostIp}/32 `;
  const proto = `-p ${p.proto} -m ${p.proto}`;
  return [
    {
      table: 'nat',
      chain: 'BERTH',
      spec: `${dst}${proto} --dport ${p.hostPort} -j DNAT --to-destination ${p.containerIp}:${p.containerPort} ${k}`,
    },
    {
      table: 'filter',
      chain: 'BERTH',
      spec: `-d ${p.containerIp}/32 ! -i ${p.bridge} -o ${p.bridge} ${proto} --dport ${p.containerPort} -j ACCEPT ${k}`,
    },
    // Hairpin: a container reaching its own published port through a host address.
    {
      table: 'nat',
      chain: 'BERTH-POSTROUTING',
      spec: `-s ${p.containerIp}/32 -d ${p.containerIp}/32 ${proto} --dport ${p.containerPort} -j MASQUERADE ${k}`,
    },
  ];
}

/** An iptables-restore --noflush script adding (`-A`) or deleting (`-D`) rules. */
export function restoreScript(rules: readonly Rule[], op: '-A' | '-D'): string {
  const lines: string[] = [];
  for (const table of ['filter', 'nat'] as const) {
    const mine = rules.filter((r) => r.table === table);
    if (mine.length === 0) continue;
    lines.push(`*${table}`);
    for (const r of mine) lines.push(`${op} ${r.chain} ${r.spec}`);
    lines.push('COMMIT');
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/**
 * The rules of `iptables-save` output that carry this tag, as `-D` lines, with the owner of
 * each: what a restart deletes when the owner is gone.
 */
export function taggedRules(save: string, tag: string): { rule: Rule; owner: string }[] {
  const out: { rule: Rule; owner: string }[] = [];
  let table: Table | undefined;
  const marker = new RegExp(`--comment "?berth:${tag}:([0-9a-f]+)"?`);
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) {
      const t = line.slice(1).trim();
      table = t === 'filter' || t === 'nat' ? t : undefined;
      continue;
    }
    if (!table || !line.startsWith('-A ')) continue;
    const m = marker.exec(line);
    if (!m) continue;
    const rest = line.slice(3);
    const sp = rest.indexOf(' ');
    out.push({
      rule: { table, chain: rest.slice(0, sp), spec: rest.slice(sp + 1) },
      owner: m[1] as string,
    });
  }
  return out;
}

/**
 * The nat table inside a container's network namespace, as dockerd writes it: DNS sent to
 * 127.0.0.11:53 goes to the embedded resolver's sockets, bound on 127.0.0.11 at free ports
 * inside that namespace (so that port 53 stays free for the container's own use), and their
 * replies leave from port 53. With no resolver, the table is empty.
 */
export function sandboxDnsScript(resolver?: { udpPort: number; tcpPort: number }): string {
  const lines = [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
  ];
  if (resolver) {
    lines.push(
      ':DOCKER_OUTPUT - [0:0]',
      ':DOCKER_POSTROUTING - [0:0]',
      '-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT',
      '-A POSTROUTING -d 127.0.0.11/32 -j DOCKER_POSTROUTING',
    );
    const ports = [
      ['tcp', resolver.tcpPort],
      ['udp', resolver.udpPort],
    ] as const;
    for (const [proto, port] of ports)
      lines.push(
        `-A DOCKER_OUTPUT -d 127.0.0.11/32 -p ${proto} -m ${proto} --dport 53 -j DNAT --to-destination 127.0.0.11:${port}`,
      );
    for (const [proto, port] of ports)
      lines.push(
        `-A DOCKER_POSTROUTING -s 127.0.0.11/32 -p ${proto} -m ${proto} --sport ${port} -j SNAT --to-source :53`,
      );
  }
  lines.push('COMMIT', '');
  return lines.join('\n');
}
