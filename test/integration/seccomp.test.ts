import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startEngine, type Engine } from './harness.js';

// berth's default seccomp profile under runc: accepted, ordinary programs work, the calls it
// withholds fail with EPERM; unconfined containers have no filter (privileged ones: the unit tests).

let engine: Engine;
let work: string;

before(async () => {
  engine = await startEngine();
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-seccomp-it-'));
});

after(async () => {
  await engine?.stop();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

async function sh(args: string[], script: string): Promise<{ code: number; out: string }> {
  const r = await engine.berth(['run', '--rm', ...args, 'busybox', 'sh', '-c', script]);
  return { code: r.code, out: r.stdout + r.stderr };
}

test('the default profile is on, and ordinary things work under it', async () => {
  const r = await sh(
    [],
    [
      'grep "^Seccomp:" /proc/self/status',
      'ls -l / >/dev/null',
      'date >/dev/null',
      'ps >/dev/null',
      'echo data > /tmp/f && cat /tmp/f && chmod 600 /tmp/f && ln -s /tmp/f /tmp/l && rm /tmp/f /tmp/l',
      'sleep 0.1 & wait',
      'echo piped | cat',
      'tar -cf - /etc 2>/dev/null | tar -tf - | grep -c passwd',
      'chroot / true && echo chrooted',
      '(echo served | nc -l -p 5555) & sleep 0.3; nc 127.0.0.1 5555 </dev/null; wait',
      // Nothing listens there: refused, not forbidden.
      'nc -w 1 127.0.0.1 1 </dev/null 2>&1 || true',
      'echo done',
    ].join('\n'),
  );
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /^Seccomp:\s+2$/m);
  assert.match(r.out, /^data$/m);
  assert.match(r.out, /^piped$/m);
  assert.match(r.out, /^chrooted$/m);
  assert.match(r.out, /^served$/m);
  assert.match(r.out, /Connection refused/);
  assert.doesNotMatch(r.out, /Operation not permitted/);
  assert.match(r.out, /done/);
});

test('what the profile withholds fails with EPERM', async () => {
  // A user namespace needs no capability from the kernel: only the filter stops it.
  const userns = await sh([], 'unshare -r true');
  assert.notEqual(userns.code, 0, userns.out);
  assert.match(userns.out, /Operation not permitted/);
  const mount = await sh([], 'mkdir -p /mnt && mount -t tmpfs none /mnt');
  assert.notEqual(mount.code, 0, mount.out);
  assert.match(mount.out, /Operation not permitted|permission denied/i);
  const reboot = await sh([], 'reboot -f; echo "still here $?"');
  assert.match(reboot.out, /still here/, reboot.out);
  assert.doesNotMatch(reboot.out, /still here 0/, reboot.out);
});

test('seccomp=unconfined has no filter', async () => {
  const unconfined = await sh(
    ['--security-opt', 'seccomp=unconfined'],
    'grep "^Seccomp:" /proc/self/status && unshare -r id -u',
  );
  assert.equal(unconfined.code, 0, unconfined.out);
  assert.match(unconfined.out, /^Seccomp:\s+0$/m);
  const mount = await sh(
    ['--security-opt', 'seccomp=unconfined', '--cap-add', 'SYS_ADMIN'],
    'mkdir -p /mnt && mount -t tmpfs none /mnt && grep " /mnt " /proc/mounts',
  );
  assert.equal(mount.code, 0, mount.out);
  assert.match(mount.out, /^none \/mnt tmpfs /m);
});

test('CAP_SYS_ADMIN brings mount back under the default profile', async () => {
  const r = await sh(
    ['--cap-add', 'SYS_ADMIN'],
    'grep "^Seccomp:" /proc/self/status && mkdir -p /mnt && mount -t tmpfs none /mnt && grep " /mnt " /proc/mounts',
  );
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /^Seccomp:\s+2$/m);
  assert.match(r.out, /^none \/mnt tmpfs /m);
});

test('seccomp=<file> applies that profile', async () => {
  const file = path.join(work, 'no-mkdir.json');
  await fs.writeFile(
    file,
    JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
    }),
  );
  const r = await sh(['--security-opt', `seccomp=${file}`], 'mkdir /x');
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, /Operation not permitted/);
  const missing = await sh(['--security-opt', `seccomp=${work}/missing.json`], 'true');
  assert.notEqual(missing.code, 0, missing.out);
  assert.match(missing.out, /seccomp profile/);
});
