import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConflictError, InvalidArgumentError } from '../errors/index.js';
import { formatAddr, formatCidr, overlaps, parseAddr, parseCidr } from './ip.js';
import { allocate, checkNoOverlap, chooseSubnet, gatewayOf, normalisePool } from './ipam.js';
import { allocatePorts, parsePortKey, portRequests, portsView, type PortMapping } from './ports.js';
import { bridgeRules, portRules, restoreScript, sandboxDnsScript, taggedRules } from './rules.js';
import { macFor } from './service.js';
import { endpointNames } from './dns-names.js';
import { filterNetworks } from './filters.js';
import type { SandboxRecord } from './network.js';

test('addresses and prefixes parse and print both families', () => {
  assert.equal(formatAddr(parseAddr('172.18.0.2')), '172.18.0.2');
  assert.equal(formatAddr(parseAddr('2001:db8:0:0:0:0:0:1')), '2001:db8::1');
  assert.equal(formatAddr(parseAddr('::ffff:10.0.0.1')), '::ffff:a00:1');
  assert.equal(formatCidr(parseCidr('10.1.2.3/16', { loose: true })), '10.1.0.0/16');
  assert.throws(() => parseCidr('10.1.2.3/16'), InvalidArgumentError);
  assert.throws(() => parseAddr('300.1.1.1'), InvalidArgumentError);
  assert.ok(overlaps(parseCidr('172.18.0.0/16'), parseCidr('172.18.5.0/24')));
  assert.ok(!overlaps(parseCidr('172.18.0.0/16'), parseCidr('172.19.0.0/16')));
});

test('the default subnet is the first pool free of networks and host routes', () => {
  const taken = ['172.17.0.0/16', '172.18.3.0/24', '192.0.2.0/24'].map((s) => parseCidr(s));
  assert.equal(formatCidr(chooseSubnet(taken)), '172.19.0.0/16');
  const all = [];
  for (let b = 17; b <= 31; b++) all.push(parseCidr(`172.${b}.0.0/16`));
  assert.equal(formatCidr(chooseSubnet(all)), '192.168.0.0/20');
});

test('pools: gateway default, range and aux addresses checked against the subnet', () => {
  const p = normalisePool(
    { Subnet: '10.5.0.0/16', IPRange: '10.5.1.0/24', AuxiliaryAddresses: { a: '10.5.1.1' } },
    { defaultGateway: false },
  );
  assert.deepEqual(p, {
    Subnet: '10.5.0.0/16',
    IPRange: '10.5.1.0/24',
    AuxiliaryAddresses: { a: '10.5.1.1' },
  });
  assert.equal(gatewayOf(p), '10.5.0.1');
  assert.throws(
    () =>
      normalisePool({ Subnet: '10.5.0.0/16', IPRange: '10.6.0.0/24' }, { defaultGateway: false }),
    InvalidArgumentError,
  );
  assert.throws(
    () => normalisePool({ Subnet: '10.5.0.0/16', Gateway: '10.9.0.1' }, { defaultGateway: false }),
    InvalidArgumentError,
  );
  assert.throws(() => checkNoOverlap(p, ['10.5.128.0/17']), ConflictError);
  checkNoOverlap(p, ['10.6.0.0/16']);
});

test('allocation: lowest free, never network/broadcast/gateway/aux, each address once', () => {
  const pool = { Subnet: '10.9.0.0/29', AuxiliaryAddresses: { x: '10.9.0.3' } };
  const leased = new Set<string>();
  const got: string[] = [];
  for (let i = 0; i < 4; i++) {
    const ip = allocate(pool, leased);
    assert.ok(!leased.has(ip));
    leased.add(ip);
    got.push(ip);
  }
  assert.deepEqual(got, ['10.9.0.2', '10.9.0.4', '10.9.0.5', '10.9.0.6']);
  assert.throws(() => allocate(pool, leased, undefined, 'n'), /no available IPv4 addresses/);
  // Released addresses come back.
  leased.delete('10.9.0.4');
  assert.equal(allocate(pool, leased), '10.9.0.4');
});

test('allocation: static addresses, ranges, IPv6', () => {
  const pool = { Subnet: '10.9.0.0/24', IPRange: '10.9.0.128/25' };
  assert.equal(allocate(pool, new Set()), '10.9.0.128');
  assert.equal(allocate(pool, new Set(), '10.9.0.50'), '10.9.0.50');
  assert.throws(() => allocate(pool, new Set(['10.9.0.50']), '10.9.0.50'), ConflictError);
  assert.throws(() => allocate(pool, new Set(), '10.1.0.5'), /does not belong/);
  assert.throws(() => allocate(pool, new Set(), '10.9.0.1'), ConflictError);
  assert.equal(allocate({ Subnet: '2001:db8:1::/64' }, new Set()), '2001:db8:1::2');
});

test('port requests: ranges pairwise, host ranges, publish-all of the rest', () => {
  const r = portRequests(
    {
      '80/tcp': [{ HostIp: '', HostPort: '8080' }],
      '81-82/udp': [{ HostIp: '127.0.0.1', HostPort: '9001-9002' }],
      '90/tcp': [{ HostPort: '7000-7010' }],
    },
    { '80/tcp': {}, '443/tcp': {} },
    true,
  );
  assert.deepEqual(r, [
    { proto: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPortLow: 8080, hostPortHigh: 8080 },
    { proto: 'udp', containerPort: 81, hostIp: '127.0.0.1', hostPortLow: 9001, hostPortHigh: 9001 },
    { proto: 'udp', containerPort: 82, hostIp: '127.0.0.1', hostPortLow: 9002, hostPortHigh: 9002 },
    { proto: 'tcp', containerPort: 90, hostIp: '0.0.0.0', hostPortLow: 7000, hostPortHigh: 7010 },
    { proto: 'tcp', containerPort: 443, hostIp: '0.0.0.0', hostPortLow: 0, hostPortHigh: 0 },
  ]);
  assert.deepEqual(parsePortKey('53/udp'), { proto: 'udp', low: 53, high: 53 });
  assert.throws(() => parsePortKey('70000/tcp'), InvalidArgumentError);
  assert.throws(
    () => portRequests({ '80/tcp': [{ HostPort: 'x' }] }, {}, false),
    InvalidArgumentError,
  );
});

test('port allocation: conflicts with dockerd words, random ports skip busy ones', async () => {
  const held: PortMapping[] = [
    { proto: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPort: 8080 },
  ];
  const busy = new Set([40001]);
  // What the host's holds would be: taking a port binds it, a busy one cannot be taken.
  const taken = new Set<string>();
  const key = (m: PortMapping): string => `${m.proto}/${m.hostIp}/${m.hostPort}`;
  const options = {
    held,
    ephemeral: [40000, 40003] as [number, number],
    take: async (m: PortMapping) => {
      if (busy.has(m.hostPort) || taken.has(key(m))) return false;
      taken.add(key(m));
      return true;
    },
    release: async (m: PortMapping) => void taken.delete(key(m)),
  };
  await assert.rejects(
    allocatePorts(
      [
        {
          proto: 'tcp',
          containerPort: 80,
          hostIp: '127.0.0.1',
          hostPortLow: 8080,
          hostPortHigh: 8080,
        },
      ],
      options,
    ),
    (e: unknown) =>
      e instanceof ConflictError &&
      e.message === 'Bind for 127.0.0.1:8080 failed: port is already allocated',
  );
  await assert.rejects(
    allocatePorts(
      [
        {
          proto: 'tcp',
          containerPort: 80,
          hostIp: '0.0.0.0',
          hostPortLow: 40001,
          hostPortHigh: 40001,
        },
      ],
      options,
    ),
    /address already in use/,
  );
  // A later request failing gives back what the earlier ones took.
  await assert.rejects(
    allocatePorts(
      [
        { proto: 'tcp', containerPort: 1, hostIp: '0.0.0.0', hostPortLow: 0, hostPortHigh: 0 },
        {
          proto: 'tcp',
          containerPort: 2,
          hostIp: '::',
          hostPortLow: 40001,
          hostPortHigh: 40001,
        },
      ],
      options,
    ),
    (e: unknown) =>
      e instanceof ConflictError &&
      e.message ===
        'Error starting userland proxy: listen tcp6 [::]:40001: bind: address already in use',
  );
  assert.deepEqual([...taken], []);
  // UDP on the same number is another port.
  const udp = await allocatePorts(
    [{ proto: 'udp', containerPort: 80, hostIp: '0.0.0.0', hostPortLow: 8080, hostPortHigh: 8080 }],
    options,
  );
  assert.equal(udp[0]?.hostPort, 8080);
  const random = await allocatePorts(
    [
      { proto: 'tcp', containerPort: 1, hostIp: '0.0.0.0', hostPortLow: 0, hostPortHigh: 0 },
      { proto: 'tcp', containerPort: 2, hostIp: '0.0.0.0', hostPortLow: 0, hostPortHigh: 0 },
    ],
    options,
  );
  assert.deepEqual(
    random.map((m) => m.hostPort),
    [40000, 40002],
  );
  assert.deepEqual([...taken].sort(), [
    'tcp/0.0.0.0/40000',
    'tcp/0.0.0.0/40002',
    'udp/0.0.0.0/8080',
  ]);
  const view = portsView({ '1/tcp': {}, '5/udp': {} }, random);
  assert.deepEqual(view, {
    '1/tcp': [{ HostIp: '0.0.0.0', HostPort: '40000' }],
    '5/udp': null,
    '2/tcp': [{ HostIp: '0.0.0.0', HostPort: '40002' }],
  });
});

test('rules: bridge, internal, icc off, ports; tagged and found again in iptables-save', () => {
  const net = {
    id: 'aaaaaaaaaaaaffff',
    bridge: 'br-x',
    subnets: ['172.20.0.0/16'],
    internal: false,
    icc: true,
    masquerade: true,
  };
  const rules = bridgeRules(net, 't1');
  const text = rules.map((r) => `${r.table} ${r.chain} ${r.spec}`);
  assert.ok(
    text.includes(
      'nat BERTH-POSTROUTING -s 172.20.0.0/16 ! -o br-x -j MASQUERADE -m comment --comment berth:t1:aaaaaaaaaaaa',
    ),
  );
  assert.ok(
    text.includes(
      'filter BERTH-ISOLATION-STAGE-2 -o br-x -j DROP -m comment --comment berth:t1:aaaaaaaaaaaa',
    ),
  );
  const internal = bridgeRules({ ...net, internal: true, icc: false }, 't1').map((r) => r.spec);
  assert.ok(internal.some((s) => s.startsWith('-i br-x -o br-x -j DROP')));
  assert.ok(internal.some((s) => s.startsWith('-i br-x ! -o br-x -j DROP')));
  assert.ok(!internal.some((s) => s.includes('MASQUERADE')));
  assert.ok(
    !bridgeRules({ ...net, masquerade: false }, 't1').some((r) =>
      r.spec.startsWith('-s 172.20.0.0/16'),
    ),
  );
  const ports = portRules(
    {
      proto: 'tcp',
      containerPort: 80,
      hostIp: '127.0.0.1',
      hostPort: 8080,
      containerIp: '172.20.0.2',
      bridge: 'br-x',
      owner: 'bbbbbbbbbbbbcc',
    },
    't1',
  );
  assert.equal(
    ports[0]?.spec,
    '-d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.20.0.2:80 -m comment --comment berth:t1:bbbbbbbbbbbb',
  );
  const script = restoreScript(ports, '-D');
  assert.match(script, /^\*filter\n-D BERTH -d 172\.20\.0\.2\/32/);
  assert.match(script, /\*nat\n-D BERTH -d 127/);
  const save = [
    '*nat',
    ':BERTH - [0:0]',
    '-A BERTH -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -m comment --comment "berth:t1:bbbbbbbbbbbb" -j DNAT --to-destination 172.20.0.2:80',
    '-A BERTH -p tcp -m tcp --dport 9 -m comment --comment "berth:t2:cccccccccccc" -j DNAT --to-destination 172.20.0.3:80',
    'COMMIT',
  ].join('\n');
  const found = taggedRules(save, 't1');
  assert.equal(found.length, 1);
  assert.equal(found[0]?.owner, 'bbbbbbbbbbbb');
  assert.equal(found[0]?.rule.chain, 'BERTH');
  const dns = sandboxDnsScript({ udpPort: 40001, tcpPort: 40002 });
  assert.match(
    dns,
    /^-A DOCKER_OUTPUT -d 127\.0\.0\.11\/32 -p udp -m udp --dport 53 -j DNAT --to-destination 127\.0\.0\.11:40001$/m,
  );
  assert.match(
    dns,
    /^-A DOCKER_POSTROUTING -s 127\.0\.0\.11\/32 -p tcp -m tcp --sport 40002 -j SNAT --to-source :53$/m,
  );
  // Without a resolver the table is emptied, nothing else.
  assert.doesNotMatch(sandboxDnsScript(), /DNAT|SNAT|DOCKER_/);
});

test('MAC addresses follow the IPv4 address as dockerd makes them', () => {
  assert.equal(macFor('172.18.0.2'), '02:42:ac:12:00:02');
});

test('DNS names: scoped to shared user networks, by name, alias, short id and FQDN', () => {
  const ep = (networkId: string, ipv4: string) => ({
    networkId,
    endpointId: `e${ipv4}`,
    veth: 'bv',
    ipv4,
    prefix: 16,
    gateway: '',
    ipv6: '',
    prefix6: 0,
    gateway6: '',
    mac: '',
    ports: [],
  });
  const att = (networkId: string, aliases: string[] = []) => ({
    networkId,
    aliases,
    links: [],
    endpointId: 'x',
  });
  const sandboxes: SandboxRecord[] = [
    {
      containerId: 'aaaaaaaaaaaa1111',
      name: 'web',
      attachments: { n1: att('N1', ['site']) },
      endpoints: { N1: ep('N1', '10.1.0.2') },
      upstreams: [],
    },
    {
      containerId: 'bbbbbbbbbbbb2222',
      name: 'cli',
      attachments: { n1: att('N1') },
      endpoints: { N1: ep('N1', '10.1.0.3') },
      upstreams: [],
    },
    {
      containerId: 'cccccccccccc3333',
      name: 'other',
      attachments: { n2: att('N2') },
      endpoints: { N2: ep('N2', '10.2.0.2') },
      upstreams: [],
    },
    {
      containerId: 'dddddddddddd4444',
      name: 'stopped',
      attachments: { n1: att('N1') },
      endpoints: {},
      upstreams: [],
    },
    {
      containerId: 'eeeeeeeeeeee5555',
      name: 'legacy',
      attachments: { bridge: att('B') },
      endpoints: { B: ep('B', '172.18.0.2') },
      upstreams: [],
    },
  ];
  const names = endpointNames(
    () => sandboxes,
    (id) => ({ N1: 'n1', N2: 'n2' })[id],
  );
  for (const q of ['web', 'site', 'aaaaaaaaaaaa', 'web.n1', 'WEB.'])
    assert.deepEqual(names.resolve('10.1.0.3', q, 'A'), ['10.1.0.2'], q);
  assert.deepEqual(names.resolve('10.1.0.3', 'web', 'AAAA'), []);
  assert.equal(names.resolve('10.1.0.3', 'other', 'A'), undefined);
  assert.equal(names.resolve('10.2.0.2', 'web', 'A'), undefined);
  assert.equal(names.resolve('10.1.0.3', 'stopped', 'A'), undefined);
  // The default bridge has no embedded names.
  assert.equal(names.resolve('172.18.0.2', 'web', 'A'), undefined);
  assert.equal(names.reverse('10.1.0.3', '10.1.0.2'), 'web.n1');
  assert.equal(names.reverse('10.2.0.2', '10.1.0.2'), undefined);
});

test('network filters: name substring, id prefix, type, label, dangling, until', () => {
  const mk = (
    Name: string,
    Id: string,
    Created: string,
    Labels: Record<string, string>,
    containers: number,
  ) => ({
    Name,
    Id,
    Created,
    Scope: 'local' as const,
    Driver: 'bridge' as const,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: [] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Options: {},
    Labels,
    Containers: Object.fromEntries(Array.from({ length: containers }, (_, i) => [`c${i}`, {}])),
  });
  const all = [
    mk('bridge', 'aa11', '2020-01-01T00:00:00Z', {}, 1),
    mk('front-net', 'bb22', '2020-01-02T00:00:00Z', { tier: 'web' }, 0),
    mk('back-net', 'cc33', '2030-01-01T00:00:00Z', { tier: 'db', x: '' }, 2),
  ];
  const type = (n: { Name: string }) =>
    (n.Name === 'bridge' ? 'builtin' : 'custom') as 'builtin' | 'custom';
  const names = (f: Record<string, string[]>) => filterNetworks(all, f, type).map((n) => n.Name);
  assert.deepEqual(names({ name: ['net'] }), ['front-net', 'back-net']);
  assert.deepEqual(names({ id: ['bb'] }), ['front-net']);
  assert.deepEqual(names({ type: ['builtin'] }), ['bridge']);
  assert.deepEqual(names({ label: ['tier'] }), ['front-net', 'back-net']);
  assert.deepEqual(names({ label: ['tier=db', 'x'] }), ['back-net']);
  assert.deepEqual(names({ dangling: ['true'] }), ['front-net']);
  assert.deepEqual(names({ until: ['2025-01-01T00:00:00Z'] }), ['bridge', 'front-net']);
  assert.throws(() => names({ bogus: ['1'] }), InvalidArgumentError);
});
