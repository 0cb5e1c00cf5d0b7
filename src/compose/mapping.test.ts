import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { serviceHash } from './hash.js';
import { loadProject } from './loader.js';
import { containerCreatePlan } from './mapping.js';
import type { Project } from './model.js';
import { targetServices } from './reconcile.js';
import { dependencyOrder } from './validate.js';

const testdata = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../src/compose/testdata',
);

function project(name: string): Project {
  return loadProject({ cwd: path.join(testdata, name), env: { API_TOKEN: 'tok' } });
}

function labelsWithoutCompose(l: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(l).filter(([k]) => !k.startsWith('com.docker.compose.')),
  );
}

describe('create body mapping', () => {
  it('maps runtime keys to the Engine API as compose does', () => {
    const p = project('runtime');
    const plan = containerCreatePlan(p, 'app', { number: 1, hash: 'h' });
    assert.equal(plan.name, 'the-app');
    assert.equal(plan.platform, 'linux/amd64');
    const { Labels, HostConfig, ...config } = plan.body as {
      Labels: Record<string, string>;
      HostConfig: unknown;
    };
    assert.deepEqual(config, {
      Image: 'busybox',
      Hostname: 'app',
      Domainname: 'example.com',
      User: '1000:1000',
      WorkingDir: '/work',
      Tty: true,
      OpenStdin: true,
      StopSignal: 'SIGUSR1',
      StopTimeout: 90,
      Healthcheck: {
        Test: ['CMD', 'true'],
        Interval: 10e9,
        Timeout: 5e9,
        StartPeriod: 30e9,
        Retries: 3,
      },
    });
    assert.deepEqual(HostConfig, {
      NetworkMode: 'host',
      RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 },
      Privileged: false,
      ReadonlyRootfs: true,
      Init: true,
      CapAdd: ['NET_ADMIN'],
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges:true'],
      Sysctls: { 'net.core.somaxconn': '1024' },
      PidsLimit: 100,
      ShmSize: 64 * 1024 * 1024,
      NanoCpus: 5e8,
      Memory: 512 * 1024 * 1024,
      MemoryReservation: 128 * 1024 * 1024,
      Devices: [
        { PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' },
      ],
      Ulimits: [
        { Name: 'nofile', Soft: 20000, Hard: 40000 },
        { Name: 'nproc', Soft: 65535, Hard: 65535 },
      ],
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m' } },
    });
    assert.deepEqual(labelsWithoutCompose(Labels), {});
    assert.equal(Labels['com.docker.compose.project'], 'runtime');
    assert.equal(Labels['com.docker.compose.service'], 'app');
    assert.equal(Labels['com.docker.compose.container-number'], '1');
    assert.equal(Labels['com.docker.compose.config-hash'], 'h');
    assert.equal(Labels['com.docker.compose.oneoff'], 'False');
    assert.equal(Labels['com.docker.compose.project.working_dir'], path.join(testdata, 'runtime'));
    assert.equal(
      Labels['com.docker.compose.project.config_files'],
      path.join(testdata, 'runtime/compose.yaml'),
    );
    assert.equal(Labels['com.docker.compose.depends_on'], '');
  });
  it('maps deploy resources, restart_policy, replicas and depends_on labels', () => {
    const p = project('runtime');
    assert.equal(p.services.worker?.scale, 2);
    const plan = containerCreatePlan(p, 'worker', {
      number: 2,
      hash: 'h',
      oneoff: true,
      imageId: 'sha256:abc',
    });
    assert.equal(plan.name, 'runtime-worker-2');
    const body = plan.body as {
      Labels: Record<string, string>;
      HostConfig: Record<string, unknown>;
    };
    assert.equal(body.Labels['com.docker.compose.depends_on'], 'app:service_healthy:true');
    assert.equal(body.Labels['com.docker.compose.oneoff'], 'True');
    assert.equal(body.Labels['com.docker.compose.image'], 'sha256:abc');
    assert.deepEqual(body.HostConfig, {
      NetworkMode: 'none',
      RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 5 },
      NanoCpus: 1.5e9,
      Memory: 1024 ** 3,
      MemoryReservation: 256 * 1024 ** 2,
    });
  });
  it('maps ports, expose, volumes, env, networks and links', () => {
    const p = project('short-syntax');
    const plan = containerCreatePlan(p, 'web', { number: 1, hash: 'h' });
    const dir = path.join(testdata, 'short-syntax');
    const body = plan.body as Record<string, unknown> & { HostConfig: Record<string, unknown> };
    assert.equal(body.Image, 'short-syntax-web');
    assert.deepEqual(body.Cmd, ['python', 'app.py', '--port', '8000']);
    assert.deepEqual(body.Entrypoint, ['/entry.sh']);
    assert.deepEqual(body.Env, ['DEBUG=1', 'EMPTY=']);
    assert.deepEqual(Object.keys(body.ExposedPorts as object).sort(), [
      '3000/tcp',
      '4444/tcp',
      '53/udp',
      '7000/tcp',
      '7001/tcp',
      '80/tcp',
      '8000/tcp',
      '9999/tcp',
    ]);
    assert.deepEqual(body.HostConfig.PortBindings, {
      '8000/tcp': [{ HostIp: '', HostPort: '' }],
      '80/tcp': [{ HostIp: '', HostPort: '8080' }],
      '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }],
      '7000/tcp': [{ HostIp: '', HostPort: '9000' }],
      '7001/tcp': [{ HostIp: '', HostPort: '9001' }],
      '3000/tcp': [{ HostIp: '', HostPort: '' }],
    });
    assert.deepEqual(body.HostConfig.Binds, [
      `${dir}/conf:/etc/app:ro`,
      '/var/run/docker.sock:/var/run/docker.sock',
    ]);
    assert.deepEqual(body.HostConfig.Mounts, [
      { Type: 'volume', Target: '/var/lib/data', ReadOnly: false, Source: 'short-syntax_data' },
      { Type: 'volume', Target: '/cache', ReadOnly: false },
    ]);
    assert.deepEqual(body.HostConfig.Tmpfs, { '/run': '' });
    assert.deepEqual(body.HostConfig.Dns, ['8.8.8.8']);
    assert.deepEqual(body.HostConfig.ExtraHosts, ['somehost:162.242.195.82']);
    assert.equal(body.HostConfig.NetworkMode, 'short-syntax_default');
    assert.deepEqual(body.NetworkingConfig, {
      EndpointsConfig: { 'short-syntax_default': { Aliases: ['web'] } },
    });
    assert.deepEqual(plan.connect, []);
  });
  it('attaches networks by priority with aliases and addresses; long volumes to Mounts', () => {
    const p = project('resources');
    const plan = containerCreatePlan(p, 'app', { number: 1, hash: 'h' });
    const body = plan.body as { HostConfig: Record<string, unknown>; NetworkingConfig: unknown };
    assert.equal(body.HostConfig.NetworkMode, 'my_project_front');
    assert.deepEqual(body.NetworkingConfig, {
      EndpointsConfig: {
        my_project_front: { Aliases: ['app', 'www'], IPAMConfig: { IPv4Address: '172.30.0.10' } },
      },
    });
    assert.deepEqual(plan.connect, [
      { network: 'custom-back', config: { Aliases: ['app'] } },
      { network: 'outside', config: { Aliases: ['app'] } },
    ]);
    assert.deepEqual(body.HostConfig.Mounts, [
      {
        Type: 'volume',
        Target: '/named',
        ReadOnly: false,
        Source: 'my_project_named',
        VolumeOptions: { NoCopy: true },
      },
      { Type: 'tmpfs', Target: '/tmp', ReadOnly: false, TmpfsOptions: { SizeBytes: 1048576 } },
    ]);
    assert.deepEqual(body.HostConfig.Binds, [`${path.join(testdata, 'resources/src')}:/src:ro`]);
  });
  it('binds file secrets and configs read-only at their targets', () => {
    const p = project('secrets');
    const plan = containerCreatePlan(p, 'app', { number: 1, hash: 'h' });
    const file = path.join(testdata, 'secrets/password.txt');
    assert.deepEqual((plan.body.HostConfig as { Binds: string[] }).Binds, [
      `${file}:/run/secrets/password:ro`,
      `${file}:/etc/settings.conf:ro`,
    ]);
  });
});

describe('config hash', () => {
  it('is stable across key order and ignores scale, build, depends_on, profiles', () => {
    const a = { image: 'x', environment: { A: '1', B: '2' }, scale: 1 };
    const b = {
      environment: { B: '2', A: '1' },
      image: 'x',
      scale: 3,
      profiles: ['p'],
      depends_on: {},
    };
    assert.equal(serviceHash(a), serviceHash(b));
    assert.notEqual(serviceHash(a), serviceHash({ ...a, command: ['x'] }));
    assert.match(serviceHash(a), /^[0-9a-f]{64}$/);
    assert.equal(
      serviceHash({ image: 'x', deploy: { replicas: 1, resources: {} } }),
      serviceHash({ image: 'x', deploy: { replicas: 5, resources: {} } }),
    );
  });
});

describe('dependency order', () => {
  it('puts dependencies first and selects what a named service needs', () => {
    const p = project('short-syntax');
    assert.deepEqual(dependencyOrder(p.services), ['db', 'web']);
    assert.deepEqual(targetServices(p, ['web']), ['db', 'web']);
    assert.deepEqual(targetServices(p, ['web'], true), ['web']);
    assert.throws(() => targetServices(p, ['nope']), /no such service: nope/);
  });
});
