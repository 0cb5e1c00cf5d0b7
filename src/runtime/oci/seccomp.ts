import { promises as fs } from 'node:fs';
import { InvalidArgumentError } from '../../errors/index.js';

/**
 * berth's default seccomp profile, in the runtime spec's `linux.seccomp` shape. Anything not
 * listed fails with EPERM; the list holds what ordinary programs call, and the calls that reach
 * past a container's walls (mounts, namespaces, modules, the clock, tracing, rebooting) are
 * added only when the container holds the capability that the kernel would check for them
 * anyway. Calls that are not namespaced at all (the kernel keyring, kexec, swap, the old
 * sysctl and module interfaces, io_uring, userfaultfd without CAP_SYS_PTRACE) stay blocked for
 * every container that has a profile; a privileged container has none, as with Docker.
 *
 * Every name is one libseccomp 2.5.4 knows (runc 1.1 refuses a profile naming a call it cannot
 * resolve); the unit test checks each against the installed library.
 */

export type SeccompAction =
  | 'SCMP_ACT_ALLOW'
  | 'SCMP_ACT_ERRNO'
  | 'SCMP_ACT_KILL'
  | 'SCMP_ACT_KILL_PROCESS'
  | 'SCMP_ACT_KILL_THREAD'
  | 'SCMP_ACT_TRAP'
  | 'SCMP_ACT_TRACE'
  | 'SCMP_ACT_LOG'
  | 'SCMP_ACT_NOTIFY';

const actions: ReadonlySet<string> = new Set<SeccompAction>([
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
]);

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op:
    | 'SCMP_CMP_NE'
    | 'SCMP_CMP_LT'
    | 'SCMP_CMP_LE'
    | 'SCMP_CMP_EQ'
    | 'SCMP_CMP_GE'
    | 'SCMP_CMP_GT'
    | 'SCMP_CMP_MASKED_EQ';
}

export interface SeccompRule {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: SeccompArg[];
}

export interface SeccompProfile {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls?: SeccompRule[];
}

const EPERM = 1;
const ENOSYS = 38;

/** Every CLONE_NEW* flag: clone may not make namespaces without CAP_SYS_ADMIN. */
const cloneNamespaceFlags =
  0x00020000 | // CLONE_NEWNS
  0x02000000 | // CLONE_NEWCGROUP
  0x04000000 | // CLONE_NEWUTS
  0x08000000 | // CLONE_NEWIPC
  0x10000000 | // CLONE_NEWUSER
  0x20000000 | // CLONE_NEWPID
  0x40000000; // CLONE_NEWNET

/** personality(2) values that change nothing dangerous: PER_LINUX, UNAME26, ADDR_NO_RANDOMIZE, both, and the query. */
const safePersonalities = [0x0, 0x0008, 0x20000, 0x20008, 0xffffffff];

const AF_VSOCK = 40;

/** Calls every container may make. */
const ordinary: readonly string[] = [
  // files and directories
  'access',
  'chdir',
  'chmod',
  'chown',
  'chown32',
  'close',
  'close_range',
  'copy_file_range',
  'creat',
  'dup',
  'dup2',
  'dup3',
  'faccessat',
  'faccessat2',
  'fadvise64',
  'fadvise64_64',
  'fallocate',
  'fchdir',
  'fchmod',
  'fchmodat',
  'fchown',
  'fchown32',
  'fchownat',
  'fcntl',
  'fcntl64',
  'fdatasync',
  'fgetxattr',
  'flistxattr',
  'flock',
  'fremovexattr',
  'fsetxattr',
  'fstat',
  'fstat64',
  'fstatat64',
  'fstatfs',
  'fstatfs64',
  'fsync',
  'ftruncate',
  'ftruncate64',
  'futimesat',
  'getcwd',
  'getdents',
  'getdents64',
  'getxattr',
  'lchown',
  'lchown32',
  'lgetxattr',
  'link',
  'linkat',
  'listxattr',
  'llistxattr',
  '_llseek',
  'lremovexattr',
  'lseek',
  'lsetxattr',
  'lstat',
  'lstat64',
  'mkdir',
  'mkdirat',
  'mknod',
  'mknodat',
  'newfstatat',
  'open',
  'openat',
  'openat2',
  'pipe',
  'pipe2',
  'pread64',
  'preadv',
  'preadv2',
  'pwrite64',
  'pwritev',
  'pwritev2',
  'read',
  'readahead',
  'readlink',
  'readlinkat',
  'readv',
  'removexattr',
  'rename',
  'renameat',
  'renameat2',
  'rmdir',
  'sendfile',
  'sendfile64',
  'setxattr',
  'splice',
  'stat',
  'stat64',
  'statfs',
  'statfs64',
  'statx',
  'symlink',
  'symlinkat',
  'sync',
  'sync_file_range',
  'syncfs',
  'tee',
  'truncate',
  'truncate64',
  'umask',
  'unlink',
  'unlinkat',
  'utime',
  'utimensat',
  'utimensat_time64',
  'utimes',
  'vmsplice',
  'write',
  'writev',
  // polling, events, notifications
  'epoll_create',
  'epoll_create1',
  'epoll_ctl',
  'epoll_ctl_old',
  'epoll_pwait',
  'epoll_pwait2',
  'epoll_wait',
  'epoll_wait_old',
  'eventfd',
  'eventfd2',
  'fanotify_mark',
  'inotify_add_watch',
  'inotify_init',
  'inotify_init1',
  'inotify_rm_watch',
  'poll',
  'ppoll',
  'ppoll_time64',
  'pselect6',
  'pselect6_time64',
  'select',
  '_newselect',
  'signalfd',
  'signalfd4',
  'timerfd_create',
  'timerfd_gettime',
  'timerfd_gettime64',
  'timerfd_settime',
  'timerfd_settime64',
  // asynchronous I/O (not io_uring)
  'io_cancel',
  'io_destroy',
  'io_getevents',
  'io_pgetevents',
  'io_pgetevents_time64',
  'io_setup',
  'io_submit',
  'ioctl',
  'ioprio_get',
  'ioprio_set',
  // memory
  'brk',
  'madvise',
  'membarrier',
  'memfd_create',
  'mincore',
  'mlock',
  'mlock2',
  'mlockall',
  'mmap',
  'mmap2',
  'mprotect',
  'mremap',
  'msync',
  'munlock',
  'munlockall',
  'munmap',
  'pkey_alloc',
  'pkey_free',
  'pkey_mprotect',
  'remap_file_pages',
  // processes and threads
  'capget',
  'capset',
  'execve',
  'execveat',
  'exit',
  'exit_group',
  'fork',
  'futex',
  'futex_time64',
  'futex_waitv',
  'get_robust_list',
  'get_thread_area',
  'getcpu',
  'getegid',
  'getegid32',
  'geteuid',
  'geteuid32',
  'getgid',
  'getgid32',
  'getgroups',
  'getgroups32',
  'getpgid',
  'getpgrp',
  'getpid',
  'getppid',
  'getpriority',
  'getresgid',
  'getresgid32',
  'getresuid',
  'getresuid32',
  'getrlimit',
  'getrusage',
  'getsid',
  'gettid',
  'getuid',
  'getuid32',
  'kill',
  'pidfd_open',
  'pidfd_send_signal',
  'prctl',
  'prlimit64',
  'process_mrelease',
  'restart_syscall',
  'rseq',
  'sched_get_priority_max',
  'sched_get_priority_min',
  'sched_getaffinity',
  'sched_getattr',
  'sched_getparam',
  'sched_getscheduler',
  'sched_rr_get_interval',
  'sched_rr_get_interval_time64',
  'sched_setaffinity',
  'sched_setattr',
  'sched_setparam',
  'sched_setscheduler',
  'sched_yield',
  'seccomp',
  'set_robust_list',
  'set_thread_area',
  'set_tid_address',
  'setfsgid',
  'setfsgid32',
  'setfsuid',
  'setfsuid32',
  'setgid',
  'setgid32',
  'setgroups',
  'setgroups32',
  'setpgid',
  'setpriority',
  'setregid',
  'setregid32',
  'setresgid',
  'setresgid32',
  'setresuid',
  'setresuid32',
  'setreuid',
  'setreuid32',
  'setrlimit',
  'setsid',
  'setuid',
  'setuid32',
  'tgkill',
  'tkill',
  'ugetrlimit',
  'vfork',
  'wait4',
  'waitid',
  'waitpid',
  // signals
  'pause',
  'rt_sigaction',
  'rt_sigpending',
  'rt_sigprocmask',
  'rt_sigqueueinfo',
  'rt_sigreturn',
  'rt_sigsuspend',
  'rt_sigtimedwait',
  'rt_sigtimedwait_time64',
  'rt_tgsigqueueinfo',
  'sigaltstack',
  'sigpending',
  'sigprocmask',
  'sigreturn',
  'sigsuspend',
  // time (reading it, sleeping, timers; setting the clock needs CAP_SYS_TIME)
  'adjtimex',
  'alarm',
  'clock_adjtime',
  'clock_adjtime64',
  'clock_getres',
  'clock_getres_time64',
  'clock_gettime',
  'clock_gettime64',
  'clock_nanosleep',
  'clock_nanosleep_time64',
  'getitimer',
  'gettimeofday',
  'nanosleep',
  'setitimer',
  'time',
  'timer_create',
  'timer_delete',
  'timer_getoverrun',
  'timer_gettime',
  'timer_gettime64',
  'timer_settime',
  'timer_settime64',
  'times',
  // sockets (socket itself below: not AF_VSOCK)
  'accept',
  'accept4',
  'bind',
  'connect',
  'getpeername',
  'getsockname',
  'getsockopt',
  'listen',
  'recv',
  'recvfrom',
  'recvmmsg',
  'recvmmsg_time64',
  'recvmsg',
  'send',
  'sendmmsg',
  'sendmsg',
  'sendto',
  'setsockopt',
  'shutdown',
  'socketcall',
  'socketpair',
  // System V and POSIX IPC (namespaced by the IPC namespace)
  'ipc',
  'mq_getsetattr',
  'mq_notify',
  'mq_open',
  'mq_timedreceive',
  'mq_timedreceive_time64',
  'mq_timedsend',
  'mq_timedsend_time64',
  'mq_unlink',
  'msgctl',
  'msgget',
  'msgrcv',
  'msgsnd',
  'semctl',
  'semget',
  'semop',
  'semtimedop',
  'semtimedop_time64',
  'shmat',
  'shmctl',
  'shmdt',
  'shmget',
  // unprivileged sandboxing of one's own processes
  'landlock_add_rule',
  'landlock_create_ruleset',
  'landlock_restrict_self',
  // the system, read only
  'getrandom',
  'sysinfo',
  'uname',
];

/** Calls only some architectures have, by Node's `process.arch`. */
const archOrdinary: Readonly<Record<string, readonly string[]>> = {
  x64: ['arch_prctl'],
  ia32: ['arch_prctl'],
  arm64: [],
  arm: [
    'arm_fadvise64_64',
    'arm_sync_file_range',
    'breakpoint',
    'cacheflush',
    'set_tls',
    'sync_file_range2',
  ],
};

/** What each capability adds to the list; a call listed under several needs any one of them. */
const byCapability: Readonly<Record<string, readonly string[]>> = {
  CAP_SYS_ADMIN: [
    'bpf',
    'clone',
    'clone3',
    'fanotify_init',
    'fsconfig',
    'fsmount',
    'fsopen',
    'fspick',
    'lookup_dcookie',
    'mount',
    'mount_setattr',
    'move_mount',
    'name_to_handle_at',
    'open_tree',
    'perf_event_open',
    'pivot_root',
    'quotactl',
    'quotactl_fd',
    'setdomainname',
    'sethostname',
    'setns',
    'syslog',
    'umount',
    'umount2',
    'unshare',
  ],
  CAP_BPF: ['bpf'],
  CAP_PERFMON: ['perf_event_open'],
  CAP_SYS_BOOT: ['reboot'],
  CAP_SYS_CHROOT: ['chroot'],
  CAP_SYS_MODULE: ['delete_module', 'finit_module', 'init_module'],
  CAP_SYS_PACCT: ['acct'],
  CAP_SYS_PTRACE: [
    'kcmp',
    'pidfd_getfd',
    'process_madvise',
    'process_vm_readv',
    'process_vm_writev',
    'ptrace',
    'userfaultfd',
  ],
  CAP_SYS_TIME: ['clock_settime', 'clock_settime64', 'settimeofday', 'stime'],
  CAP_SYS_TTY_CONFIG: ['vhangup'],
  CAP_SYS_NICE: ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node'],
  CAP_SYSLOG: ['syslog'],
  CAP_DAC_READ_SEARCH: ['open_by_handle_at'],
};

/** x86 port I/O, under CAP_SYS_RAWIO. */
const archByCapability: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  x64: { CAP_SYS_RAWIO: ['ioperm', 'iopl'] },
  ia32: { CAP_SYS_RAWIO: ['ioperm', 'iopl'] },
};

/** The libseccomp architecture names a profile covers on a host of this `process.arch`. */
export function seccompArchitectures(arch: string = process.arch): string[] {
  switch (arch) {
    case 'x64':
      return ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];
    case 'ia32':
      return ['SCMP_ARCH_X86'];
    case 'arm64':
      return ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'];
    case 'arm':
      return ['SCMP_ARCH_ARM'];
    default:
      return [];
  }
}

/**
 * The default profile for a container whose effective capabilities are `caps` (`CAP_`
 * names), on a host of `arch` (Node's `process.arch`; the host's by default).
 */
export function defaultSeccompProfile(
  caps: readonly string[],
  arch: string = process.arch,
): SeccompProfile {
  const has = new Set(caps);
  const allowed = new Set<string>([...ordinary, ...(archOrdinary[arch] ?? [])]);
  const gated = [...Object.entries(byCapability), ...Object.entries(archByCapability[arch] ?? {})];
  for (const [cap, names] of gated) {
    if (has.has(cap)) for (const n of names) allowed.add(n);
  }
  const sysAdmin = has.has('CAP_SYS_ADMIN');
  const syscalls: SeccompRule[] = [
    { names: [...allowed].sort(), action: 'SCMP_ACT_ALLOW' },
    {
      names: ['personality'],
      action: 'SCMP_ACT_ALLOW',
      args: safePersonalities.map((value) => ({ index: 0, value, op: 'SCMP_CMP_EQ' })),
    },
    {
      names: ['socket'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }],
    },
  ];
  if (!sysAdmin) {
    syscalls.push(
      {
        // Threads and processes, but no new namespaces. The flags are the first argument on
        // every architecture berth supports (s390 would swap the first two).
        names: ['clone'],
        action: 'SCMP_ACT_ALLOW',
        args: [{ index: 0, value: cloneNamespaceFlags, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      },
      {
        // clone3 passes its flags in memory, where a filter cannot look: ENOSYS makes the C
        // libraries fall back to clone, which the rule above can check.
        names: ['clone3'],
        action: 'SCMP_ACT_ERRNO',
        errnoRet: ENOSYS,
      },
    );
  }
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    architectures: seccompArchitectures(arch),
    syscalls,
  };
}

/** Every call name the default profile can name on `arch`, gated or not: for checking names. */
export function seccompProfileNames(arch: string = process.arch): string[] {
  const all = new Set<string>([
    ...ordinary,
    ...(archOrdinary[arch] ?? []),
    'personality',
    'socket',
  ]);
  for (const names of Object.values(byCapability)) for (const n of names) all.add(n);
  for (const names of Object.values(archByCapability[arch] ?? {}))
    for (const n of names) all.add(n);
  return [...all].sort();
}

/** The `seccomp=` value of `--security-opt` options, if any (the last one wins, as in Docker). */
export function seccompOption(securityOpt: readonly string[]): string | undefined {
  let value: string | undefined;
  for (const opt of securityOpt) {
    const m = /^seccomp[=:](.*)$/.exec(opt);
    if (m) value = m[1] ?? '';
  }
  return value;
}

/**
 * Reads the profile that `--security-opt seccomp=<path>` names, for buildSpec's
 * `seccompProfile` input; undefined when the options name no file (none, `unconfined`,
 * `builtin`). The document is parsed and its shape checked; runc checks the call names.
 */
export async function loadSeccompProfile(
  securityOpt: readonly string[],
): Promise<SeccompProfile | undefined> {
  const value = seccompOption(securityOpt);
  if (value === undefined || value === 'unconfined' || value === 'builtin' || value === '') {
    return undefined;
  }
  let text: string;
  try {
    text = await fs.readFile(value, 'utf8');
  } catch (err: unknown) {
    throw new InvalidArgumentError(`opening seccomp profile (${value}) failed: ${String(err)}`, {
      cause: err,
    });
  }
  return parseSeccompProfile(text, value);
}

/** Parses and checks a profile document (the runtime spec's shape). */
export function parseSeccompProfile(text: string, source = 'profile'): SeccompProfile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err: unknown) {
    throw new InvalidArgumentError(`decoding seccomp profile (${source}) failed: ${String(err)}`, {
      cause: err,
    });
  }
  const bad = (what: string): InvalidArgumentError =>
    new InvalidArgumentError(`invalid seccomp profile (${source}): ${what}`);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad('not an object');
  const p = doc as Record<string, unknown>;
  if (typeof p.defaultAction !== 'string' || !actions.has(p.defaultAction)) {
    throw bad(`unknown defaultAction ${JSON.stringify(p.defaultAction)}`);
  }
  if (p.defaultErrnoRet !== undefined && typeof p.defaultErrnoRet !== 'number') {
    throw bad('defaultErrnoRet must be a number');
  }
  if (
    p.architectures !== undefined &&
    (!Array.isArray(p.architectures) || !p.architectures.every((a) => typeof a === 'string'))
  ) {
    throw bad('architectures must be a list of names');
  }
  if (p.archMap !== undefined) {
    // Docker's own profile format: architectures by map, rules with includes/excludes.
    throw bad('Docker-format profiles (archMap, includes/excludes) are not supported');
  }
  if (p.syscalls !== undefined) {
    if (!Array.isArray(p.syscalls)) throw bad('syscalls must be a list');
    for (const [i, r] of (p.syscalls as unknown[]).entries()) {
      if (typeof r !== 'object' || r === null) throw bad(`syscalls[${i}] is not an object`);
      const rule = r as Record<string, unknown>;
      if (rule.name !== undefined && rule.names === undefined) {
        throw bad(`syscalls[${i}]: use "names", a list`);
      }
      if (!Array.isArray(rule.names) || !rule.names.every((n) => typeof n === 'string')) {
        throw bad(`syscalls[${i}].names must be a list of names`);
      }
      if (typeof rule.action !== 'string' || !actions.has(rule.action)) {
        throw bad(`syscalls[${i}]: unknown action ${JSON.stringify(rule.action)}`);
      }
      if (rule.includes !== undefined || rule.excludes !== undefined) {
        throw bad(`syscalls[${i}]: includes/excludes are Docker's format, not supported`);
      }
    }
  }
  return p as unknown as SeccompProfile;
}
