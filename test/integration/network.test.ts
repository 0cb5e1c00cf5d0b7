import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCommand, startEngine, type CommandResult, type Engine } from './harness.js';
import { engineHostState, engineTag, host, ok, type HostState } from './network-state.js';

// Networks end to end: real containers on real bridges, veths, netns and iptables rules,
// traffic only between the test's own containers and to 127.0.0.1 on the host.

let engine: Engine;
const suffix = randomBytes(3).toString('hex');
const anchorHost = 'unix:///run/berth-anchors/docker.sock';

before(async () => {
  engine = await startEngine();
});

after(async () => {
  await engine?.stop();
});

const b = (...args: string[]): Promise<string> => ok(engine.berth(args));

/** An HTTP GET of /hostname from inside a container, by busybox nc (its wget is unusable). */
async function fetchFrom(container: string, target: string): Promise<string> {
  const r = await engine.berth([
    'exec',
    container,
    'sh',
    '-c',
    `printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${target} 80 | tail -n 1`,
  ]);
  return r.stdout.trim();
}

/** An HTTP GET from the host. */
function hostGet(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port }, () => s.write('GET /hostname HTTP/1.0\r\n\r\n'));
    let data = '';
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    s.on('data', (d: Buffer) => (data += d.toString()));
    s.on('end', () => resolve(data.trim().split('\n').pop() ?? ''));
    s.on('error', reject);
  });
}

/** Binding a host port from this process: 'ok' (and released again) or the error code. */
function bindHost(proto: 'tcp' | 'udp', host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const failed = (err: NodeJS.ErrnoException): void => resolve(err.code ?? String(err));
    if (proto === 'tcp') {
      const s = net.createServer();
      s.once('error', failed);
      s.listen({ host, port }, () => s.close(() => resolve('ok')));
    } else {
      const s = dgram.createSocket('udp4');
      s.once('error', (err) => {
        s.close();
        failed(err);
      });
      s.bind({ address: host, port }, () => s.close(() => resolve('ok')));
    }
  });
}

/** Binding a TCP port on ::1 from this process: 'ok' (and released again) or the error code. */
function bindHostV6(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? String(err)));
    s.listen({ host: '::1', port, ipv6Only: true }, () => s.close(() => resolve('ok')));
  });
}

/** A port free on the host now: the kernel's pick, released. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen({ host: '0.0.0.0', port: 0 }, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const tag = (): string => engineTag(engine);
const hostState = (): Promise<HostState> => engineHostState(engine);

/** A container's address on a network, from the API's inspect. */
async function ipOf(container: string, network: string): Promise<string> {
  const r = await engine.api('GET', `/containers/${container}/json`);
  const nets = (r.body as { NetworkSettings: { Networks: Record<string, { IPAddress: string }> } })
    .NetworkSettings.Networks;
  return nets[network]?.IPAddress ?? '';
}

const httpd = ['busybox', 'httpd', '-f', '-p', '80', '-h', '/etc'];

describe('networks', () => {
  test('predefined networks; the default bridge avoids subnets routed on the host', async () => {
    const ls = await b('network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}');
    assert.deepEqual(ls.split('\n'), ['bridge bridge local', 'host host local', 'none null local']);
    const bridge = JSON.parse(await b('network', 'inspect', 'bridge')) as {
      IPAM: { Config: { Subnet: string; Gateway: string }[] };
      Options: Record<string, string>;
    }[];
    // A test engine's own default bridge (berth0 is the default data root's).
    assert.equal(bridge[0]?.Options['com.docker.network.bridge.name'], `bd-${tag()}`);
    const subnet = bridge[0]?.IPAM.Config[0]?.Subnet ?? '';
    const routes = await ok(host('ip', ['-4', 'route']));
    const others = routes.split('\n').filter((l) => !l.includes(`bd-${tag()}`));
    assert.ok(!others.some((l) => l.startsWith(`${subnet} `)), `${subnet} routed elsewhere`);
    const rm = await engine.berth(['network', 'rm', 'bridge']);
    assert.notEqual(rm.code, 0);
    assert.match(rm.stderr, /pre-defined network and cannot be removed/);
  });

  test('containers of a user network reach each other by name, alias and short id', async () => {
    const netName = `nt-${suffix}-a`;
    await b('network', 'create', netName);
    await b(
      'run',
      '-d',
      '--name',
      `web-${suffix}`,
      '--network',
      netName,
      '--network-alias',
      'site',
      ...httpd,
    );
    const cid = await b(
      'run',
      '-d',
      '--name',
      `cli-${suffix}`,
      '--dns',
      '127.0.0.1',
      '--network',
      netName,
      'busybox',
      'sleep',
      '300',
    );
    const webId = await b('inspect', '-f', '{{.Id}}', `web-${suffix}`);
    for (const target of [
      `web-${suffix}`,
      'site',
      webId.slice(0, 12),
      `web-${suffix}.${netName}`,
    ]) {
      assert.equal(await fetchFrom(`cli-${suffix}`, target), webId.slice(0, 12), target);
    }
    const resolv = await b('exec', `cli-${suffix}`, 'cat', '/etc/resolv.conf');
    assert.match(resolv, /^nameserver 127\.0\.0\.11$/m);
    const hosts = await b('exec', `cli-${suffix}`, 'cat', '/etc/hosts');
    const ip = await ipOf(cid, `${netName}`);
    assert.match(hosts, new RegExp(`^${ip.replaceAll('.', '\\.')}\\t${cid.slice(0, 12)}$`, 'm'));
    const inspect = JSON.parse(await b('network', 'inspect', netName)) as {
      Containers: Record<string, { Name: string }>;
    }[];
    assert.deepEqual(
      Object.values(inspect[0]?.Containers ?? {})
        .map((c) => c.Name)
        .sort(),
      [`cli-${suffix}`, `web-${suffix}`],
    );
    // A network with endpoints is not removed; dockerd's message.
    const rm = await engine.berth(['network', 'rm', netName]);
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, /error while removing network: network .* has active endpoints/);
  });

  test('another user network cannot reach them; connect and disconnect on a running container', async () => {
    const other = `nt-${suffix}-b`;
    await b('network', 'create', other);
    await b(
      'run',
      '-d',
      '--name',
      `out-${suffix}`,
      '--dns',
      '127.0.0.1',
      '--network',
      other,
      'busybox',
      'sleep',
      '300',
    );
    const webIp = await ipOf(`web-${suffix}`, `nt-${suffix}-a`);
    assert.equal(await fetchFrom(`out-${suffix}`, webIp), '');
    // (Names of another network are not ours: they are forwarded upstream, which a test
    // must not reach, so that part is covered by the unit test of the name scoping.)
    const aId = await b('network', 'inspect', '-f', '{{.Id}}', `nt-${suffix}-a`);
    const macFile = `/sys/class/net/br-${aId.slice(0, 12)}/address`;
    const mac = await fs.readFile(macFile, 'utf8');
    await b('network', 'connect', '--alias', 'late', `nt-${suffix}-a`, `out-${suffix}`);
    // The bridge keeps its MAC as a port joins: the containers' ARP entries for the gateway
    // (and so their DNS) stay right.
    assert.equal(await fs.readFile(macFile, 'utf8'), mac);
    const webId = await b('inspect', '-f', '{{.Id}}', `web-${suffix}`);
    assert.equal(await fetchFrom(`out-${suffix}`, `web-${suffix}`), webId.slice(0, 12));
    const addrs = await b('exec', `out-${suffix}`, 'ip', '-o', '-4', 'addr', 'show');
    assert.match(addrs, /eth1/);
    // busybox nslookup sends one UDP query and gives up: the first must be answered.
    const nslookup = await b('exec', `cli-${suffix}`, 'nslookup', 'late');
    assert.match(nslookup, /Address: \d+\.\d+\.\d+\.\d+/);
    await b('network', 'disconnect', `nt-${suffix}-a`, `out-${suffix}`);
    assert.equal(await fetchFrom(`out-${suffix}`, webIp), '');
    assert.doesNotMatch(await b('exec', `out-${suffix}`, 'ip', '-o', '-4', 'addr', 'show'), /eth1/);
  });

  test('--internal: peers reach each other, nothing leaves the network', async () => {
    const internal = `nt-${suffix}-i`;
    await b('network', 'create', '--internal', internal);
    await b('run', '-d', '--name', `in1-${suffix}`, '--network', internal, ...httpd);
    await b(
      'run',
      '-d',
      '--name',
      `in2-${suffix}`,
      '--cap-add',
      'NET_ADMIN',
      '--network',
      internal,
      'busybox',
      'sleep',
      '300',
    );
    const id1 = await b('inspect', '-f', '{{.Id}}', `in1-${suffix}`);
    assert.equal(await fetchFrom(`in2-${suffix}`, `in1-${suffix}`), id1.slice(0, 12));
    // No default route, and the web container of another network is out of reach.
    const routes = await b('exec', `in2-${suffix}`, 'ip', 'route');
    assert.doesNotMatch(routes, /default/);
    const webIp = await ipOf(`web-${suffix}`, `nt-${suffix}-a`);
    await b('exec', `in2-${suffix}`, 'ip', 'route', 'add', 'default', 'dev', 'eth0');
    assert.equal(await fetchFrom(`in2-${suffix}`, webIp), '');
  });

  test('bridge options: own bridge name, icc off, IPv6 subnet, static address, prune', async () => {
    const netName = `nt-${suffix}-o`;
    const bridge = `bt${suffix}`;
    await b(
      'network',
      'create',
      '-o',
      `com.docker.network.bridge.name=${bridge}`,
      '-o',
      'com.docker.network.bridge.enable_icc=false',
      '--ipv6',
      '--subnet',
      '10.213.0.0/24',
      '--subnet',
      'fd00:213::/64',
      netName,
    );
    assert.equal((await host('ip', ['link', 'show', bridge])).code, 0);
    await b(
      'run',
      '-d',
      '--name',
      `o1-${suffix}`,
      '--network',
      netName,
      '--ip',
      '10.213.0.77',
      ...httpd,
    );
    await b('run', '-d', '--name', `o2-${suffix}`, '--network', netName, 'busybox', 'sleep', '300');
    assert.equal(await ipOf(`o1-${suffix}`, netName), '10.213.0.77');
    const addrs = await b('exec', `o2-${suffix}`, 'ip', '-o', 'addr', 'show', 'eth0');
    assert.match(addrs, /inet6 fd00:213::\S+\/64/);
    // enable_icc=false: no traffic between containers of the network.
    assert.equal(await fetchFrom(`o2-${suffix}`, '10.213.0.77'), '');
    // In use: a second --ip of the same address fails at start, the first keeps it.
    const dup = await engine.berth([
      'run',
      '-d',
      '--name',
      `o3-${suffix}`,
      '--network',
      netName,
      '--ip',
      '10.213.0.77',
      'busybox',
      'sleep',
      '300',
    ]);
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, /Address already in use/);
    await b('rm', '-f', `o1-${suffix}`, `o2-${suffix}`, `o3-${suffix}`);
    const pruned = await b('network', 'prune', '-f');
    assert.match(pruned, new RegExp(`^${netName}$`, 'm'));
    assert.notEqual((await host('ip', ['link', 'show', bridge])).code, 0);
  });

  test('default bridge: no embedded DNS, --link writes hosts entries', async () => {
    const web = await b('run', '-d', '--name', `lw-${suffix}`, ...httpd);
    await b(
      'run',
      '-d',
      '--name',
      `lc-${suffix}`,
      '--link',
      `lw-${suffix}:db`,
      'busybox',
      'sleep',
      '300',
    );
    const hosts = await b('exec', `lc-${suffix}`, 'cat', '/etc/hosts');
    const ip = await ipOf(`lw-${suffix}`, 'bridge');
    assert.match(
      hosts,
      new RegExp(`^${ip.replaceAll('.', '\\.')}\\tdb ${web.slice(0, 12)} lw-${suffix}$`, 'm'),
    );
    assert.doesNotMatch(
      await b('exec', `lc-${suffix}`, 'cat', '/etc/resolv.conf'),
      /127\.0\.0\.11/,
    );
    assert.equal(await fetchFrom(`lc-${suffix}`, 'db'), web.slice(0, 12));
    await b('rm', '-f', `lw-${suffix}`, `lc-${suffix}`);
  });

  test('published ports answer on 127.0.0.1 and the host address; -P; port; conflicts', async () => {
    const port = await freePort();
    const id = await b(
      'run',
      '-d',
      '--name',
      `pub-${suffix}`,
      '-p',
      `${port}:80`,
      '-p',
      `${port}:80/udp`,
      '--expose',
      '81',
      '-P',
      ...httpd,
    );
    assert.equal(await hostGet('127.0.0.1', port), id.slice(0, 12));
    const out = await b('port', `pub-${suffix}`);
    assert.match(out, new RegExp(`^80/tcp -> 0\\.0\\.0\\.0:${port}$`, 'm'));
    const random = /^81\/tcp -> 0\.0\.0\.0:(\d+)$/m.exec(out);
    assert.ok(random, out);
    // A random port comes from the kernel's ephemeral range, as dockerd's port allocator.
    const range = (await fs.readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'))
      .trim()
      .split(/\s+/)
      .map(Number);
    const randomPort = Number(random[1]);
    assert.ok(randomPort >= (range[0] ?? 0) && randomPort <= (range[1] ?? 0), out);
    // berthd holds every published port, as docker-proxy does: a host process cannot bind
    // it (and be shadowed by the DNAT), nor get it as an ephemeral port.
    for (const h of ['0.0.0.0', '127.0.0.1'])
      assert.equal(await bindHost('tcp', h, port), 'EADDRINUSE', `tcp ${h}:${port}`);
    assert.equal(await bindHost('udp', '0.0.0.0', port), 'EADDRINUSE', `udp ${port}`);
    assert.equal(await bindHost('tcp', '0.0.0.0', randomPort), 'EADDRINUSE', `tcp ${randomPort}`);
    // A port a host process holds: dockerd's error at start, nothing left configured.
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen({ host: '0.0.0.0', port: 0 }, resolve));
    const busyPort = (busy.address() as net.AddressInfo).port;
    const beforeBusy = await hostState();
    const refused = await engine.berth([
      'run',
      '-d',
      '--name',
      `busy-${suffix}`,
      '-p',
      `${busyPort}:80`,
      ...httpd,
    ]);
    busy.close();
    assert.notEqual(refused.code, 0);
    assert.match(
      refused.stderr,
      new RegExp(
        `driver failed programming external connectivity on endpoint busy-${suffix} \\([0-9a-f]{64}\\): Error starting userland proxy: listen tcp4 0\\.0\\.0\\.0:${busyPort}: bind: address already in use`,
      ),
    );
    assert.deepEqual({ ...(await hostState()), netns: beforeBusy.netns }, beforeBusy);
    await b('rm', `busy-${suffix}`);
    const ps = await b('ps', '--filter', `name=pub-${suffix}`, '--format', '{{.Ports}}');
    assert.match(ps, new RegExp(`0\\.0\\.0\\.0:${port}->80/tcp`));
    // The same host port again: dockerd's error at start, nothing left configured.
    const before = await hostState();
    const clash = await engine.berth([
      'run',
      '-d',
      '--name',
      `clash-${suffix}`,
      '-p',
      `${port}:80`,
      ...httpd,
    ]);
    assert.notEqual(clash.code, 0);
    assert.match(
      clash.stderr,
      new RegExp(
        `driver failed programming external connectivity on endpoint clash-${suffix} \\([0-9a-f]{64}\\): Bind for 0\\.0\\.0\\.0:${port} failed: port is already allocated`,
      ),
    );
    const afterClash = await hostState();
    assert.deepEqual({ ...afterClash, netns: before.netns }, before);
    assert.equal(await b('inspect', '-f', '{{.State.Running}}', `clash-${suffix}`), 'false');
    await b('rm', `clash-${suffix}`);
    assert.deepEqual(await hostState(), before);
    // A user network's container publishes too, and a container reaches it through the host port.
    const api = await engine.api('GET', `/containers/pub-${suffix}/json`);
    const ports = (api.body as { NetworkSettings: { Ports: Record<string, unknown> } })
      .NetworkSettings.Ports;
    assert.deepEqual(ports[`80/tcp`], [{ HostIp: '0.0.0.0', HostPort: String(port) }]);
    // Removed, the container gives its ports back.
    await b('rm', '-f', `pub-${suffix}`);
    assert.equal(await bindHost('tcp', '0.0.0.0', port), 'ok');
    assert.equal(await bindHost('udp', '0.0.0.0', port), 'ok');
    assert.equal(await bindHost('tcp', '0.0.0.0', randomPort), 'ok');
  });

  test('an IPv6 host address: the port is held on it and TCP reaches the container', async () => {
    const port = await freePort();
    const name = `v6-${suffix}`;
    await b('run', '-d', '--name', name, '-p', `[::1]:${port}:80`, ...httpd);
    try {
      assert.equal(await b('port', name), `80/tcp -> [::1]:${port}`);
      // No IPv4 rule can carry it: the hold passes the connection on, as docker-proxy does.
      const rules = await ok(host('iptables-save', []));
      assert.ok(!rules.includes(`--dport ${port} `), 'no iptables rule for a v6 binding');
      const id = await b('inspect', '-f', '{{.Config.Hostname}}', name);
      assert.equal(await hostGet('::1', port), id);
      assert.equal(await bindHostV6(port), 'EADDRINUSE');
    } finally {
      await b('rm', '-f', name);
    }
    assert.equal(await bindHostV6(port), 'ok');
  });

  test('after a crash, running containers keep ports and names; dead ones leave nothing', async () => {
    const port = 25000 + Math.floor(Math.random() * 5000);
    const net1 = `nt-${suffix}-c`;
    await b('network', 'create', net1);
    const keep = await b(
      'run',
      '-d',
      '--name',
      `keep-${suffix}`,
      '--network',
      net1,
      '-p',
      `${port}:80`,
      ...httpd,
    );
    await b('run', '-d', '--name', `peer-${suffix}`, '--network', net1, 'busybox', 'sleep', '300');
    const dies = await b(
      'run',
      '-d',
      '--name',
      `dies-${suffix}`,
      '--network',
      net1,
      '-p',
      `${port + 1}:80`,
      ...httpd,
    );
    const diesPid = Number(await b('inspect', '-f', '{{.State.Pid}}', dies));
    const withAll = await hostState();
    await engine.crash();
    process.kill(diesPid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    await engine.restart();
    assert.equal(await b('inspect', '-f', '{{.State.Status}}', dies), 'exited');
    // The restarted daemon holds the running container's port again, and not the dead one's.
    assert.equal(await bindHost('tcp', '0.0.0.0', port), 'EADDRINUSE');
    assert.equal(await bindHost('tcp', '0.0.0.0', port + 1), 'ok');
    const now = await hostState();
    // One endpoint fewer: its veth, its port rules (3) and its lease are gone.
    assert.deepEqual(now, {
      ...withAll,
      veths: withAll.veths - 1,
      netns: withAll.netns - 1,
      rules: withAll.rules - 3,
      leases: withAll.leases - 1,
    });
    assert.equal(await hostGet('127.0.0.1', port), keep.slice(0, 12));
    assert.equal(await fetchFrom(`peer-${suffix}`, `keep-${suffix}`), keep.slice(0, 12));
    // It starts again with a fresh endpoint.
    await b('start', dies);
    assert.equal(await hostGet('127.0.0.1', port + 1), dies.slice(0, 12));
    assert.equal(await bindHost('tcp', '0.0.0.0', port + 1), 'EADDRINUSE');
  });
});

describe('test engines leave nothing on the host', () => {
  test('an engine killed -9 with containers running and never restarted, once stopped', async () => {
    const other = await startEngine();
    let stopped = false;
    try {
      const netName = `nt-${suffix}-gone`;
      const bridge = `br-${(await ok(other.berth(['network', 'create', netName]))).slice(0, 12)}`;
      for (const network of [netName, 'bridge'])
        await ok(
          other.berth(['run', '-d', '--network', network, '-p', '80', 'busybox', 'sleep', '300']),
        );
      const otherTag = createHash('sha256')
        .update(path.resolve(path.join(other.dataRoot, 'network')))
        .digest('hex')
        .slice(0, 8);
      await other.crash();
      // stop throws when a link or rule of the engine's networks is still on the host.
      stopped = true;
      await other.stop();
      const links = await ok(host('ip', ['-o', 'link', 'show']));
      assert.doesNotMatch(links, new RegExp(`: (bd-${otherTag}|${bridge})[:@]`));
      assert.doesNotMatch(await ok(host('iptables-save', [])), new RegExp(`berth:${otherTag}:`));
      // A test body still running after its engine stopped cannot start it again.
      await assert.rejects(other.restart(), /is stopped/);
    } finally {
      if (!stopped) await other.stop();
    }
  });
});

describe('networks against the anchor dockerd', () => {
  const docker = (args: string[]): Promise<CommandResult> =>
    runCommand('docker', args, { DOCKER_HOST: anchorHost });
  let anchor = false;

  before(async () => {
    anchor = (await docker(['version', '--format', '{{.Server.Version}}'])).code === 0;
  });

  /** Ids, addresses, MACs and times replaced, so that two engines' answers compare. */
  const normalise = (text: string): string =>
    text
      .replace(/[0-9a-f]{64}/g, '<id>')
      .replace(/\b[0-9a-f]{12}\b/g, '<short>')
      .replace(/\d+\.\d+\.\d+\.\d+(\/\d+)?/g, '<ip>')
      .replace(/([0-9a-f]{2}:){5}[0-9a-f]{2}/g, '<mac>')
      .replace(/"Created": "[^"]+"/g, '"Created": "<t>"')
      .replace(/^\d+: /gm, 'N: ')
      .replace(/@if\d+/g, '@ifN')
      .replace(/nt-[0-9a-f]+-d/g, '<net>')
      .replace(/dc-[0-9a-f]+/g, '<ctr>');

  test('interfaces are named eth<n> counted up, not reused after a disconnect, as dockerd', async () => {
    const names = async (run: (args: string[]) => Promise<CommandResult>): Promise<string[]> => {
      const o = async (args: string[]): Promise<string> => {
        const r = await run(args);
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
        return r.stdout;
      };
      const nets = ['a', 'b', 'c'].map((x) => `nt-${suffix}-if${x}`);
      const ctr = `ifc-${suffix}`;
      // Each interface with the network its address is in (the networks' subnets differ).
      const links = async (): Promise<string> => {
        const subnets = new Map<string, string>();
        for (const [i, n] of nets.entries()) {
          const sub = await o(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}', n]);
          subnets.set(sub.trim().split('.').slice(0, 3).join('.'), 'abc'[i] ?? '?');
        }
        return (await o(['exec', ctr, 'ip', '-o', '-4', 'addr']))
          .split('\n')
          .map((l) => /^\d+: (eth\d+)\s+inet (\d+\.\d+\.\d+)\./.exec(l))
          .filter((m) => m !== null)
          .map((m) => `${m[1]}=${subnets.get(m[2] ?? '') ?? '?'}`)
          .sort()
          .join(',');
      };
      for (const n of nets) await o(['network', 'create', n]);
      const seen: string[] = [];
      try {
        await o([
          'run',
          '-d',
          '--name',
          ctr,
          '--network',
          nets[0] ?? '',
          'busybox',
          'sleep',
          '300',
        ]);
        await o(['network', 'connect', nets[1] ?? '', ctr]);
        await o(['network', 'disconnect', nets[0] ?? '', ctr]);
        await o(['network', 'connect', nets[2] ?? '', ctr]);
        seen.push(await links());
        await o(['network', 'connect', nets[0] ?? '', ctr]);
        seen.push(await links());
        await o(['restart', '-t', '0', ctr]);
        seen.push(await links());
      } finally {
        await run(['rm', '-f', ctr]);
        for (const n of nets) await run(['network', 'rm', n]);
      }
      return seen;
    };
    const ours = await names((args) => engine.docker(args));
    assert.deepEqual(ours, [
      'eth1=b,eth2=c',
      'eth1=b,eth2=c,eth3=a',
      // After a restart, the run's network first; dockerd takes the others in a map's order.
      'eth0=a,eth1=b,eth2=c',
    ]);
    const theirs = await names(docker);
    assert.deepEqual(theirs.slice(0, 2), ours.slice(0, 2));
    assert.match(theirs[2] ?? '', /^eth0=a,eth1=[bc],eth2=[bc]$/);
  });

  test('network inspect and the container view (/etc/hosts, resolv.conf, ip addr) match', async () => {
    // `make test` starts it (shared/bench/anchors.sh): without it, the comparison is not made.
    assert.ok(anchor, `the anchor dockerd is not reachable at ${anchorHost}`);
    const netName = `nt-${suffix}-d`;
    const ctr = `dc-${suffix}`;
    const view = async (
      run: (args: string[]) => Promise<CommandResult>,
    ): Promise<Record<string, string>> => {
      const o = async (args: string[]): Promise<string> => {
        const r = await run(args);
        assert.equal(r.code, 0, r.stderr);
        return r.stdout;
      };
      await o([
        'network',
        'create',
        '--label',
        'k=v',
        '-o',
        'com.docker.network.bridge.enable_icc=true',
        netName,
      ]);
      try {
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
        const netJson = JSON.parse(await o(['network', 'inspect', netName])) as Record<
          string,
          unknown
        >[];
        const n = netJson[0] ?? {};
        delete n['Options'];
        const settings = JSON.parse(
          await o(['inspect', '-f', '{{json .NetworkSettings.Networks}}', ctr]),
        ) as Record<string, Record<string, unknown>>;
        const ep = settings[netName] ?? {};
        return {
          network: normalise(JSON.stringify(n, null, 1)),
          endpointKeys: Object.keys(ep).sort().join(','),
          aliases: normalise(JSON.stringify(ep['Aliases'])),
          hosts: normalise(await o(['exec', ctr, 'cat', '/etc/hosts'])),
          resolv: await o(['exec', ctr, 'cat', '/etc/resolv.conf']),
          ipAddr: normalise(await o(['exec', ctr, 'ip', 'addr'])).replace(/ qlen 1000/g, ''),
          route: normalise(await o(['exec', ctr, 'ip', 'route'])),
        };
      } finally {
        await run(['rm', '-f', ctr]);
        await run(['network', 'rm', netName]);
      }
    };
    const theirs = await view(docker);
    const ours = await view((args) => engine.docker(args));
    // dockerd's newer fields we do not have are the only difference allowed in the keys.
    assert.equal(ours.network, theirs.network);
    assert.equal(ours.aliases, theirs.aliases);
    assert.equal(ours.hosts, theirs.hosts);
    assert.equal(ours.resolv, theirs.resolv);
    assert.equal(ours.ipAddr, theirs.ipAddr);
    assert.equal(ours.route, theirs.route);
    assert.equal(ours.endpointKeys, theirs.endpointKeys);
  });
});
