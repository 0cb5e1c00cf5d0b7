import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { InvalidArgumentError } from '../../errors/index.js';
import type { HostConfig } from '../../spec/engine.js';
import {
  defaultSeccompProfile,
  loadSeccompProfile,
  parseSeccompProfile,
  seccompArchitectures,
  seccompProfileNames,
  type SeccompProfile,
  type SeccompRule,
} from './seccomp.js';
import { buildSpec, defaultCapabilities, type SpecInput } from './spec.js';

function allowed(p: SeccompProfile): Set<string> {
  const out = new Set<string>();
  for (const r of p.syscalls ?? []) {
    if (r.action === 'SCMP_ACT_ALLOW' && !r.args) for (const n of r.names) out.add(n);
  }
  return out;
}

function rule(p: SeccompProfile, name: string): SeccompRule | undefined {
  return (p.syscalls ?? []).find((r) => r.names.includes(name));
}

function specWith(
  hostConfig: HostConfig,
  extra: Partial<SpecInput> = {},
): ReturnType<typeof buildSpec> {
  return buildSpec({
    id: 'abc',
    config: {},
    hostConfig,
    image: { Cmd: ['sh'] },
    user: { uid: 0, gid: 0, additionalGids: [] },
    hostname: 'abc',
    mounts: [],
    ...extra,
  });
}

describe('default seccomp profile', () => {
  const profile = defaultSeccompProfile(defaultCapabilities, 'x64');

  test('denies by default with EPERM, for the host architectures', () => {
    assert.equal(profile.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(profile.defaultErrnoRet, 1);
    assert.deepEqual(profile.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    assert.deepEqual(seccompArchitectures('arm64'), ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  });

  test('allows ordinary calls and blocks the ones that reach past the container', () => {
    const ok = allowed(profile);
    for (const n of [
      'read',
      'openat',
      'execve',
      'futex',
      'chown',
      'setuid',
      'arch_prctl',
      'wait4',
    ]) {
      assert.ok(ok.has(n), n);
    }
    for (const n of [
      'mount',
      'umount2',
      'unshare',
      'setns',
      'pivot_root',
      'reboot',
      'ptrace',
      'init_module',
      'kexec_load',
      'keyctl',
      'add_key',
      'swapon',
      'settimeofday',
      'io_uring_setup',
      'open_by_handle_at',
      'bpf',
      'iopl',
    ]) {
      assert.equal(rule(profile, n), undefined, `${n} is not in the profile`);
    }
  });

  test('clone may not make namespaces and clone3 falls back to clone, without CAP_SYS_ADMIN', () => {
    assert.deepEqual(rule(profile, 'clone'), {
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    });
    assert.deepEqual(rule(profile, 'clone3'), {
      names: ['clone3'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: 38,
    });
  });

  test('personality only to the safe values; socket all but AF_VSOCK', () => {
    const p = rule(profile, 'personality');
    assert.equal(p?.action, 'SCMP_ACT_ALLOW');
    assert.deepEqual(
      p?.args?.map((a) => [a.index, a.op, a.value]),
      [0, 8, 0x20000, 0x20008, 0xffffffff].map((v) => [0, 'SCMP_CMP_EQ', v]),
    );
    assert.deepEqual(rule(profile, 'socket')?.args, [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }]);
  });

  test('each capability adds its calls', () => {
    const admin = defaultSeccompProfile([...defaultCapabilities, 'CAP_SYS_ADMIN'], 'x64');
    const a = allowed(admin);
    for (const n of ['mount', 'umount2', 'unshare', 'setns', 'pivot_root', 'clone', 'clone3']) {
      assert.ok(a.has(n), n);
    }
    assert.equal(admin.syscalls?.filter((r) => r.names.includes('clone')).length, 1);
    assert.ok(allowed(defaultSeccompProfile(['CAP_SYS_BOOT'], 'x64')).has('reboot'));
    const ptrace = allowed(defaultSeccompProfile(['CAP_SYS_PTRACE'], 'x64'));
    for (const n of ['ptrace', 'process_vm_readv', 'kcmp']) assert.ok(ptrace.has(n), n);
    assert.ok(allowed(defaultSeccompProfile(['CAP_SYS_TIME'], 'x64')).has('clock_settime'));
    assert.ok(allowed(defaultSeccompProfile(['CAP_SYS_RAWIO'], 'x64')).has('iopl'));
    assert.ok(!allowed(defaultSeccompProfile(['CAP_SYS_RAWIO'], 'arm64')).has('iopl'));
    // Docker's default set holds CAP_SYS_CHROOT: chroot is allowed; without it, not.
    assert.ok(allowed(profile).has('chroot'));
    assert.ok(!allowed(defaultSeccompProfile([], 'x64')).has('chroot'));
  });

  test('no call is named twice', () => {
    for (const arch of ['x64', 'arm64']) {
      const all = defaultSeccompProfile(['CAP_SYS_ADMIN', 'CAP_SYS_PTRACE', 'CAP_SYSLOG'], arch);
      const names = (all.syscalls ?? []).flatMap((r) => r.names);
      assert.equal(new Set(names).size, names.length, arch);
    }
  });

  test('libseccomp 2.5 knows every name the profile can hold, on every architecture', async () => {
    // runc refuses a profile naming a call libseccomp cannot resolve. A negative pseudo
    // number means "known, not on this architecture"; -1 means unknown.
    const tokens: Record<string, number> = {
      SCMP_ARCH_X86_64: 0xc000003e,
      SCMP_ARCH_X86: 0x40000003,
      SCMP_ARCH_X32: 0x4000003e,
      SCMP_ARCH_AARCH64: 0xc00000b7,
      SCMP_ARCH_ARM: 0x40000028,
    };
    const checks: [string, number][] = [];
    for (const arch of ['x64', 'arm64']) {
      for (const a of seccompArchitectures(arch)) {
        for (const n of seccompProfileNames(arch)) checks.push([n, tokens[a] ?? 0]);
      }
    }
    const script = [
      'import ctypes, json, sys',
      "lib = ctypes.CDLL('libseccomp.so.2')",
      'lib.seccomp_syscall_resolve_name_arch.argtypes = [ctypes.c_uint32, ctypes.c_char_p]',
      'bad = [n for n, a in json.load(sys.stdin) if lib.seccomp_syscall_resolve_name_arch(a, n.encode()) == -1]',
      'print(json.dumps(bad))',
    ].join('\n');
    const child = promisify(execFile)('python3', ['-c', script]);
    child.child.stdin?.end(JSON.stringify(checks));
    const { stdout } = await child;
    assert.deepEqual(JSON.parse(stdout), [], 'names libseccomp does not know');
  });
});

describe('seccomp in buildSpec', () => {
  test('the default profile, built from the effective capabilities', () => {
    const spec = specWith({});
    assert.deepEqual(spec.linux?.seccomp, defaultSeccompProfile(defaultCapabilities));
    const admin = specWith({ CapAdd: ['SYS_ADMIN'] });
    assert.deepEqual(
      admin.linux?.seccomp,
      defaultSeccompProfile([...defaultCapabilities, 'CAP_SYS_ADMIN']),
    );
    const dropped = specWith({ CapDrop: ['ALL'] });
    assert.deepEqual(dropped.linux?.seccomp, defaultSeccompProfile([]));
  });

  test('none when privileged or seccomp=unconfined', () => {
    assert.equal(specWith({ Privileged: true }).linux?.seccomp, undefined);
    assert.equal(specWith({ SecurityOpt: ['seccomp=unconfined'] }).linux?.seccomp, undefined);
    assert.equal(specWith({ SecurityOpt: ['seccomp:unconfined'] }).linux?.seccomp, undefined);
  });

  test('a profile inline (as the docker CLI sends it) or read from a path by the caller', async () => {
    const mine: SeccompProfile = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
    };
    const inline = specWith({ SecurityOpt: [`seccomp=${JSON.stringify(mine)}`] });
    assert.deepEqual(inline.linux?.seccomp, mine);

    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-seccomp-'));
    try {
      const file = path.join(dir, 'profile.json');
      await writeFile(file, JSON.stringify(mine));
      const opts = [`seccomp=${file}`];
      const loaded = await loadSeccompProfile(opts);
      assert.deepEqual(loaded, mine);
      assert.deepEqual(
        specWith({ SecurityOpt: opts }, { seccompProfile: loaded }).linux?.seccomp,
        mine,
      );
      assert.throws(() => specWith({ SecurityOpt: opts }), InvalidArgumentError);
      await assert.rejects(
        loadSeccompProfile([`seccomp=${path.join(dir, 'missing.json')}`]),
        InvalidArgumentError,
      );
      assert.equal(await loadSeccompProfile(['seccomp=unconfined']), undefined);
      assert.equal(await loadSeccompProfile([]), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a malformed profile is refused with its reason', () => {
    assert.throws(() => parseSeccompProfile('{'), InvalidArgumentError);
    assert.throws(() => parseSeccompProfile('{"defaultAction":"SCMP_ACT_NOPE"}'), /defaultAction/);
    assert.throws(
      () => parseSeccompProfile('{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":"read"}]}'),
      /names must be a list/,
    );
    assert.throws(
      () => parseSeccompProfile('{"defaultAction":"SCMP_ACT_ERRNO","archMap":[]}'),
      /Docker-format/,
    );
  });
});
