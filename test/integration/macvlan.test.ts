import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as dnsPacket from 'dns-packet';
import { runCommand, startEngine, type CommandResult, type Engine } from './harness.js';
import { leaseCount, netnsCount, ruleCount } from './network-state.js';

// macvlan networks end to end. The parents are veth pairs this test makes (this kernel may
// have no dummy links); containers talk to each other only, since a host never reaches its
// own macvlan children through their parent. The subnets are private and not routed here.

let engine: Engine;
const suffix = randomBytes(3).toString('hex');
const anchorHost = 'unix:///run/berth-anchors/docker.sock';
/** veth ends: a (berth's main parent), b (berth's second), c (the anchor's), e (a doomed one). */
const link = (end: string): string => `mv${suffix}${end}`;
const octet = randomInt(1, 250);
const subnet = `10.251.${octet}.0/24`;
const net3 = (last: number): string => `10.251.${octet}.${last}`;

function host(file: string, args: string[]): Promise<CommandResult> {
  return runCommand(file, args, {});
}

async function ok(r: Promise<CommandResult>): Promise<string> {
  const res = await r;
  assert.equal(res.code, 0, `exit ${res.code}: ${res.stderr}`);
  return res.stdout.trim();
}

const b = (...args: string[]): Promise<string> => ok(engine.docker(args));
const anchorDocker = (args: string[]): Promise<CommandResult> =>
  runCommand('docker', args, { DOCKER_HOST: anchorHost });

async function vethPair(x: string, y: string): Promise<void> {
  await ok(host('ip', ['link', 'add', link(x), 'type', 'veth', 'peer', 'name', link(y)]));
  await ok(host('ip', ['link', 'set', link(x), 'up']));
  await ok(host('ip', ['link', 'set', link(y), 'up']));
}

before(async () => {
  engine = await startEngine();
  await vethPair('a', 'b');
  await vethPair('c', 'd');
  await vethPair('e', 'f');
});

after(async () => {
  await engine?.stop();
  for (const end of ['a', 'c', 'e']) await host('ip', ['link', 'delete', link(end)]);
});

/** An HTTP GET of /hostname from inside a container, by busybox nc. */
async function fetchFrom(container: string, target: string): Promise<string> {
  const r = await engine.docker([
    'exec',
    container,
    'sh',
    '-c',
    `printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${target} 80 | tail -n 1`,
  ]);
  return r.stdout.trim();
}

const httpd = ['busybox', 'httpd', '-f', '-p', '80', '-h', '/etc'];

/** busybox nslookup asks once over UDP; a resolver retries, and so does this. */
async function lookup(container: string, name: string): Promise<string> {
  let out = '';
  for (let i = 0; i < 3 && !/Name:.*\nAddress: \d/.test(out); i++)
    out = (await engine.docker(['exec', container, 'nslookup', name])).stdout;
  return out;
}

interface HostState {
  /** Host links of this test's names, and dummy parents. */
  links: string[];
  networks: number;
  netns: number;
  leases: number;
  rules: number;
}

async function hostState(): Promise<HostState> {
  const links = (await ok(host('ip', ['-o', 'link', 'show'])))
    .split('\n')
    .map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1] ?? '')
    .filter((n) => n.includes(suffix) || n.startsWith('dm-'))
    .sort();
  const networks = (await fs.readdir(path.join(engine.dataRoot, 'network', 'networks'))).length;
  return {
    links,
    networks,
    netns: await netnsCount(engine),
    leases: await leaseCount(engine),
    rules: await ruleCount(engine),
  };
}

/** Sockets berthd holds (the resolvers' among them). */
async function daemonSockets(): Promise<number> {
  const pid = engine.daemon?.pid;
  assert.ok(pid);
  const dir = `/proc/${pid}/fd`;
  let n = 0;
  for (const fd of await fs.readdir(dir)) {
    const target = await fs.readlink(path.join(dir, fd)).catch(() => '');
    if (target.startsWith('socket:')) n++;
  }
  return n;
}

/**
 * Whether `mac` is free on `parent`: the kernel refuses a second macvlan of the same MAC on
 * one parent, wherever the first lives, so a sub-interface left in a lost namespace shows.
 */
async function macFree(parent: string, mac: string): Promise<boolean> {
  const probe = `mq${suffix}`;
  const add = await host('ip', [
    'link',
    'add',
    'link',
    parent,
    'name',
    probe,
    'address',
    mac,
    'type',
    'macvlan',
    'mode',
    'bridge',
  ]);
  if (add.code !== 0) return false;
  const up = await host('ip', ['link', 'set', probe, 'up']);
  await host('ip', ['link', 'delete', probe]);
  return up.code === 0;
}

const macOf = (ip: string): string =>
  `02:42:${ip
    .split('.')
    .map((x) => Number(x).toString(16).padStart(2, '0'))
    .join(':')}`;

async function inspectNet(
  container: string,
  network: string,
): Promise<{ IPAddress: string; MacAddress: string; Gateway: string; Aliases: string[] | null }> {
  const r = await engine.api('GET', `/containers/${container}/json`);
  const nets = (
    r.body as { NetworkSettings: { Networks: Record<string, Record<string, unknown>> } }
  ).NetworkSettings.Networks;
  return nets[network] as {
    IPAddress: string;
    MacAddress: string;
    Gateway: string;
    Aliases: string[] | null;
  };
}

describe('macvlan networks', () => {
  const main = `mvn-${suffix}`;

  test('bad input: one error in dockerd words, nothing made', async () => {
    await b(
      'network',
      'create',
      '-d',
      'macvlan',
      '-o',
      `parent=${link('a')}`,
      '--subnet',
      subnet,
      main,
    );
    const before = await hostState();
    const other = `mvx-${suffix}`;
    const cases: { args: string[]; error: RegExp }[] = [
      {
        args: ['-o', `parent=nope${suffix}`],
        error: new RegExp(
          `invalid subinterface vlan name nope${suffix}, example formatting is eth0\\.10$`,
        ),
      },
      {
        args: ['-o', `parent=${link('b')}.5000`],
        error: /vlan id must be between 1-4094, received: 5000$/,
      },
      {
        args: ['-o', `parent=${link('b')}.x`],
        error: /unable to parse a valid vlan id from: x \(ex\. eth0\.10 for vlan 10\)$/,
      },
      {
        args: ['-o', `parent=nope${suffix}.7`],
        error: new RegExp(`-o parent interface does was not found on the host: nope${suffix}$`),
      },
      {
        args: ['-o', 'parent=lo'],
        error: /loopback interface is not a valid macvlan parent link$/,
      },
      {
        args: ['-o', `parent=${link('b')}`, '-o', 'macvlan_mode=bogus'],
        error:
          /requested macvlan mode 'bogus' is not valid, 'bridge' mode is the macvlan driver default$/,
      },
      {
        // The parent of another macvlan network; dockerd names that one by its dummy's name.
        args: ['-o', `parent=${link('a')}`, '--subnet', '10.252.0.0/24'],
        error: new RegExp(
          `network dm-[0-9a-f]{12} is already using parent interface ${link('a')}$`,
        ),
      },
      {
        args: ['-o', `parent=${link('b')}`, '--subnet', `10.251.${octet}.128/25`],
        error: /Pool overlaps with other one on this address space$/,
      },
    ];
    for (const c of cases) {
      const r = await engine.docker(['network', 'create', '-d', 'macvlan', ...c.args, other]);
      assert.equal(r.code, 1, c.args.join(' '));
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0] ?? '', c.error);
      assert.match(lines[0] ?? '', /^Error response from daemon: /);
      assert.deepEqual(await hostState(), before, c.args.join(' '));
    }
    const used = await engine.docker([
      'network',
      'create',
      '-d',
      'macvlan',
      '-o',
      `parent=${link('a')}`,
      other,
    ]);
    const mainId = await b('network', 'inspect', '-f', '{{.Id}}', main);
    assert.match(used.stderr, new RegExp(`network dm-${mainId.slice(0, 12)} is already`));
  });

  test('the kernel decides on dummy and VLAN parents; what berth made goes with the network', async () => {
    // Whether this kernel has dummy and 802.1q links decides success; both ways are checked.
    const before = await hostState();
    for (const args of [[], ['-o', `parent=${link('b')}.10`]]) {
      const name = `mvk-${suffix}`;
      const r = await engine.docker(['network', 'create', '-d', 'macvlan', ...args, name]);
      if (r.code === 0) {
        const id = r.stdout.trim();
        const made = args.length === 0 ? `dm-${id.slice(0, 12)}` : `${link('b')}.10`;
        assert.ok((await hostState()).links.includes(made), `${made} made`);
        await b('network', 'rm', name);
      } else {
        assert.match(
          r.stderr.trim(),
          args.length === 0
            ? /^Error response from daemon: operation not supported$/
            : new RegExp(
                `^Error response from daemon: failed to create ${link('b')}\\.10 vlan link: operation not supported$`,
              ),
        );
      }
      assert.deepEqual(await hostState(), before);
    }
  });

  test('two containers reach each other by IP, name and alias over TCP; other names go upstream', async () => {
    // A stand-in for the host's resolver, on a loopback address of its own.
    const upstream = `127.${randomInt(100, 200)}.${randomInt(1, 250)}.${randomInt(1, 250)}`;
    const sock = dgram.createSocket('udp4');
    sock.on('message', (msg, rinfo) => {
      const q = dnsPacket.decode(msg);
      const question = q.questions?.[0];
      const answers: dnsPacket.Answer[] =
        question?.type === 'A' && question.name === `ext-${suffix}.example`
          ? [{ type: 'A', name: question.name, ttl: 60, data: '192.0.2.77' }]
          : [];
      const reply = dnsPacket.encode({
        type: 'response',
        id: q.id ?? 0,
        flags: dnsPacket.RECURSION_AVAILABLE,
        questions: q.questions ?? [],
        answers,
      });
      sock.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => sock.bind(53, upstream, () => resolve()));
    try {
      await b(
        'run',
        '-d',
        '--name',
        `mw-${suffix}`,
        '--network',
        main,
        '--network-alias',
        'site',
        ...httpd,
      );
      const cid = await b(
        'run',
        '-d',
        '--name',
        `mc-${suffix}`,
        '--dns',
        upstream,
        '--network',
        main,
        'busybox',
        'sleep',
        '300',
      );
      const webId = await b('inspect', '-f', '{{.Id}}', `mw-${suffix}`);
      const web = await inspectNet(`mw-${suffix}`, main);
      assert.equal(web.IPAddress, net3(2));
      assert.equal(web.Gateway, net3(1));
      assert.equal(web.MacAddress, macOf(net3(2)));
      assert.deepEqual(web.Aliases, ['site', webId.slice(0, 12)]);
      for (const target of [
        net3(2),
        `mw-${suffix}`,
        'site',
        webId.slice(0, 12),
        `mw-${suffix}.${main}`,
      ])
        assert.equal(await fetchFrom(`mc-${suffix}`, target), webId.slice(0, 12), target);
      // The sub-interface is the container's: eth0 of the parent's kind, the route via the gateway.
      const addr = await b('exec', `mc-${suffix}`, 'ip', '-o', '-4', 'addr', 'show', 'eth0');
      assert.match(addr, new RegExp(`inet ${net3(3).replaceAll('.', '\\.')}/24`));
      assert.match(
        await b('exec', `mc-${suffix}`, 'ip', 'route'),
        new RegExp(`^default via ${net3(1).replaceAll('.', '\\.')} dev eth0`, 'm'),
      );
      assert.match(
        await b('exec', `mc-${suffix}`, 'cat', '/etc/resolv.conf'),
        /^nameserver 127\.0\.0\.11$/m,
      );
      const hosts = await b('exec', `mc-${suffix}`, 'cat', '/etc/hosts');
      assert.match(
        hosts,
        new RegExp(`^${net3(3).replaceAll('.', '\\.')}\\t${cid.slice(0, 12)}$`, 'm'),
      );
      // Port 53 of the container stays its own: the resolver is at another port, DNATed.
      const pid = await b('inspect', '-f', '{{.State.Pid}}', `mc-${suffix}`);
      const bound = await ok(host('nsenter', [`--net=/proc/${pid}/ns/net`, 'ss', '-Hlnu']));
      const port = /127\.0\.0\.11:(\d+)/.exec(bound)?.[1];
      assert.ok(port && port !== '53', bound);
      assert.match(await lookup(`mc-${suffix}`, `ext-${suffix}.example`), /Address: 192\.0\.2\.77/);
      assert.match(
        await lookup(`mc-${suffix}`, 'site'),
        new RegExp(`Address: ${net3(2).replaceAll('.', '\\.')}`),
      );
      const inspect = JSON.parse(await b('network', 'inspect', main)) as {
        Containers: Record<string, { Name: string; IPv4Address: string; MacAddress: string }>;
        Options: Record<string, string>;
      }[];
      assert.deepEqual(inspect[0]?.Options, { parent: link('a') });
      assert.deepEqual(
        Object.values(inspect[0]?.Containers ?? {})
          .map((c) => `${c.Name} ${c.IPv4Address} ${c.MacAddress}`)
          .sort(),
        [
          `mc-${suffix} ${net3(3)}/24 ${macOf(net3(3))}`,
          `mw-${suffix} ${net3(2)}/24 ${macOf(net3(2))}`,
        ],
      );
      // Nothing of it on the host: no sub-interface in the host's namespace, no rule.
      const state = await hostState();
      assert.deepEqual(
        state.links,
        [link('a'), link('b'), link('c'), link('d'), link('e'), link('f')].sort(),
      );
    } finally {
      sock.close();
      await engine.docker(['rm', '-f', `mw-${suffix}`, `mc-${suffix}`]);
    }
  });

  test('nothing left after rm, a crash of berthd, and a failed start', async () => {
    const initial = await hostState();
    // A crash while the container runs, and its process gone before berthd is back.
    await b('run', '-d', '--name', `ml-${suffix}`, '--network', main, 'busybox', 'sleep', '300');
    const ep = await inspectNet(`ml-${suffix}`, main);
    assert.equal(await macFree(link('a'), ep.MacAddress), false, 'the probe sees a live one');
    const pid = Number(await b('inspect', '-f', '{{.State.Pid}}', `ml-${suffix}`));
    await engine.crash();
    process.kill(pid, 'SIGKILL');
    await engine.restart();
    for (
      let i = 0;
      i < 50 && (await b('inspect', '-f', '{{.State.Running}}', `ml-${suffix}`)) === 'true';
      i++
    )
      await new Promise((r) => setTimeout(r, 100));
    assert.equal(await b('inspect', '-f', '{{.State.Running}}', `ml-${suffix}`), 'false');
    assert.equal(await macFree(link('a'), ep.MacAddress), true, 'sub-interface left after a crash');
    assert.deepEqual(await hostState(), initial);
    // A container running through a crash gets its resolver back.
    await b('start', `ml-${suffix}`);
    await b('run', '-d', '--name', `mp-${suffix}`, '--network', main, 'busybox', 'sleep', '300');
    await engine.crash();
    await engine.restart();
    assert.match(await lookup(`ml-${suffix}`, `mp-${suffix}`), /Address: 10\.251\./);
    const sockets = await daemonSockets();
    await b('rm', '-f', `ml-${suffix}`, `mp-${suffix}`);
    assert.equal(await macFree(link('a'), ep.MacAddress), true, 'sub-interface left after rm');
    await new Promise((r) => setTimeout(r, 300));
    // Two sockets (UDP, TCP) for each container's resolver.
    const closed = sockets - (await daemonSockets());
    assert.ok(closed >= 4, `${closed} sockets closed`);
    assert.deepEqual(await hostState(), initial);
    // A failed start: the second network's parent is gone; the first endpoint is undone.
    const doomed = `mvd-${suffix}`;
    await b(
      'network',
      'create',
      '-d',
      'macvlan',
      '-o',
      `parent=${link('e')}`,
      '--subnet',
      '10.252.1.0/24',
      doomed,
    );
    await b('create', '--name', `mf-${suffix}`, '--network', main, 'busybox', 'sleep', '300');
    await b('network', 'connect', doomed, `mf-${suffix}`);
    const withDoomed = await hostState();
    await ok(host('ip', ['link', 'delete', link('e')]));
    const start = await engine.docker(['start', `mf-${suffix}`]);
    assert.notEqual(start.code, 0);
    assert.match(start.stderr, new RegExp(`parent interface ${link('e')} was not found`));
    assert.equal(
      await macFree(link('a'), macOf(net3(2))),
      true,
      'sub-interface left after a failed start',
    );
    const failed = await hostState();
    // (The created container's namespace goes with the failed task, as after any task.)
    assert.deepEqual(
      { leases: failed.leases, rules: failed.rules, networks: failed.networks },
      { leases: withDoomed.leases, rules: withDoomed.rules, networks: withDoomed.networks },
    );
    assert.equal(failed.leases, 0);
    await b('rm', `mf-${suffix}`);
    await b('network', 'rm', doomed);
    await vethPair('e', 'f');
    assert.deepEqual(await hostState(), initial);
    await b('network', 'rm', main);
    const gone = await hostState();
    assert.equal(gone.networks, initial.networks - 1);
    assert.deepEqual(gone.links, initial.links);
    assert.equal(gone.rules, initial.rules);
  });
});

describe('macvlan against the anchor dockerd', () => {
  let anchor = false;

  before(async () => {
    anchor = (await anchorDocker(['version', '--format', '{{.Server.Version}}'])).code === 0;
  });

  const normalise = (text: string, parent: string): string =>
    text
      .replace(/[0-9a-f]{64}/g, '<id>')
      .replace(/\b[0-9a-f]{12}\b/g, '<short>')
      .replace(/"Created": "[^"]+"/g, '"Created": "<t>"')
      .replace(/^\d+: /gm, 'N: ')
      .replace(/@if\d+/g, '@ifN')
      .replaceAll(parent, '<parent>');

  test('network inspect, the container view and the errors match dockerd', async () => {
    // `make test` starts it (shared/bench/anchors.sh): without it, the comparison is not made.
    assert.ok(anchor, `the anchor dockerd is not reachable at ${anchorHost}`);
    const netName = `mva-${suffix}`;
    const ctr = `mvac-${suffix}`;
    const options = (variant: 'plain' | 'internal6'): string[] =>
      variant === 'plain'
        ? [
            '-o',
            'macvlan_mode=bridge',
            '--subnet',
            subnet,
            '--gateway',
            net3(1),
            '--ip-range',
            `10.251.${octet}.64/26`,
            '--aux-address',
            `r=${net3(65)}`,
            '--label',
            'k=v',
          ]
        : [
            '--internal',
            '--ipv6',
            '--subnet',
            subnet,
            '--subnet',
            `fd42:${octet.toString(16)}::/64`,
            '-o',
            'macvlan_mode=private',
          ];
    const view = async (
      run: (args: string[]) => Promise<CommandResult>,
      parent: string,
      variant: 'plain' | 'internal6',
    ): Promise<Record<string, string>> => {
      const o = async (args: string[]): Promise<string> => {
        const r = await run(args);
        assert.equal(r.code, 0, r.stderr);
        return r.stdout;
      };
      const first = (r: CommandResult): string =>
        `${r.code} ${normalise(r.stderr.split('\n')[0] ?? '', parent)}`;
      const errors: string[] = [];
      errors.push(
        first(await run(['network', 'create', '-d', 'macvlan', '-o', `parent=nope${suffix}`, 'x'])),
      );
      await o([
        'network',
        'create',
        '-d',
        'macvlan',
        '-o',
        `parent=${parent}`,
        ...options(variant),
        netName,
      ]);
      try {
        errors.push(
          first(await run(['network', 'create', '-d', 'macvlan', '-o', `parent=${parent}`, 'y'])),
        );
        errors.push(
          first(
            await run(['network', 'create', '-d', 'macvlan', '-o', `parent=${parent}.5000`, 'y']),
          ),
        );
        await o([
          'run',
          '-d',
          '--name',
          ctr,
          '--network',
          netName,
          '--network-alias',
          'al',
          'busybox',
          'sleep',
          '300',
        ]);
        const n = (JSON.parse(await o(['network', 'inspect', netName])) as unknown[])[0];
        const settings = JSON.parse(
          await o(['inspect', '-f', '{{json .NetworkSettings.Networks}}', ctr]),
        ) as Record<string, Record<string, unknown>>;
        const ep = settings[netName] ?? {};
        return {
          network: normalise(JSON.stringify(n, null, 1), parent),
          endpoint: normalise(JSON.stringify(ep, Object.keys(ep).sort(), 1), parent),
          ports: await o(['inspect', '-f', '{{json .NetworkSettings.Ports}}', ctr]),
          hosts: normalise(await o(['exec', ctr, 'cat', '/etc/hosts']), parent),
          resolv: await o(['exec', ctr, 'cat', '/etc/resolv.conf']),
          // Global addresses only: a link-local one's DAD state depends on timing.
          ipAddr: normalise(
            await o(['exec', ctr, 'sh', '-c', 'ip -4 addr; ip -6 addr show scope global']),
            parent,
          ).replace(/ qlen 1000/g, ''),
          route: await o(['exec', ctr, 'sh', '-c', 'ip route; ip -6 route']),
          errors: errors.join('\n'),
        };
      } finally {
        await run(['rm', '-f', ctr]);
        await run(['network', 'rm', netName]);
      }
    };
    for (const [variant, theirParent, ourParent] of [
      ['plain', link('c'), link('b')],
      ['internal6', link('d'), link('f')],
    ] as const) {
      const theirs = await view(anchorDocker, theirParent, variant);
      const ours = await view((args) => engine.docker(args), ourParent, variant);
      for (const k of Object.keys(theirs)) assert.equal(ours[k], theirs[k], `${variant}: ${k}`);
    }
  });
});
