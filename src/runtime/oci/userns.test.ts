import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../../errors/index.js';
import type { IdMap } from '../../idmap/idmap.js';
import type { HostConfig } from '../../spec/engine.js';
import { buildSpec, type SpecInput } from './spec.js';

const idMap: IdMap = {
  uid: [{ containerID: 0, hostID: 100000, size: 65536 }],
  gid: [
    { containerID: 0, hostID: 200000, size: 1000 },
    { containerID: 1000, hostID: 300000, size: 64536 },
  ],
};

function input(hostConfig: HostConfig = {}, map: IdMap | null = idMap): SpecInput {
  return {
    id: 'abc',
    config: {},
    hostConfig,
    image: { Cmd: ['sh'] },
    user: { uid: 0, gid: 0, additionalGids: [] },
    hostname: 'abc',
    mounts: [],
    ...(map ? { idMap: map } : {}),
  };
}

test('a remapped daemon gives the container a user namespace with its mappings', () => {
  const spec = buildSpec(input());
  assert.ok(spec.linux?.namespaces.some((n) => n.type === 'user'));
  assert.deepEqual(spec.linux?.uidMappings, idMap.uid);
  assert.deepEqual(spec.linux?.gidMappings, idMap.gid);
  // The other namespaces are still there.
  const types = spec.linux?.namespaces.map((n) => n.type).sort();
  assert.deepEqual(types, ['ipc', 'mount', 'network', 'pid', 'user', 'uts']);
  // ping_group_range would name unmapped gids; the port sysctl stays.
  assert.equal(spec.linux?.sysctl?.['net.ipv4.ping_group_range'], undefined);
  assert.equal(spec.linux?.sysctl?.['net.ipv4.ip_unprivileged_port_start'], '0');
  // Asked for explicitly, it is kept.
  const own = buildSpec(input({ Sysctls: { 'net.ipv4.ping_group_range': '0 1' } }));
  assert.equal(own.linux?.sysctl?.['net.ipv4.ping_group_range'], '0 1');
});

test('--userns host and a daemon without remap: no user namespace, no mappings', () => {
  for (const spec of [buildSpec(input({ UsernsMode: 'host' })), buildSpec(input({}, null))]) {
    assert.ok(!spec.linux?.namespaces.some((n) => n.type === 'user'));
    assert.equal(spec.linux?.uidMappings, undefined);
    assert.equal(spec.linux?.gidMappings, undefined);
    assert.equal(spec.linux?.sysctl?.['net.ipv4.ping_group_range'], '0 2147483647');
  }
});

test('options Docker refuses in a user namespace; allowed with --userns host', () => {
  const cases: [HostConfig, RegExp][] = [
    [{ Privileged: true }, /^privileged mode is incompatible with user namespaces/],
    [{ NetworkMode: 'host' }, /^cannot share the host's network namespace/],
    [{ PidMode: 'host' }, /^cannot share the host PID namespace/],
  ];
  for (const [h, re] of cases) {
    assert.throws(
      () => buildSpec(input(h)),
      (err: unknown) => err instanceof InvalidArgumentError && re.test(err.message),
    );
    assert.doesNotThrow(() => buildSpec(input({ ...h, UsernsMode: 'host' })));
    assert.doesNotThrow(() => buildSpec(input(h, null)));
  }
});
