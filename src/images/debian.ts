import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { InvalidArgumentError, SystemError, UnavailableError } from '../errors/index.js';

/**
 * Debian base images made on this machine from Debian's own packages with mmdebstrap, shaped
 * like Docker Hub's `debian` images (debuerreotype): variant minbase with merged /usr, the
 * apt/dpkg settings those images carry for containers (no service starts, no package
 * caches, no translations, gzip indexes, unsafe-io), deb822 sources, empty apt lists, and
 * for `-slim` dpkg path excludes for documentation, manuals and locales. Pure parts (names,
 * sources, arguments) are exported for tests; {@link debianRootfs} runs mmdebstrap.
 */

/** What `debian:<tag>` asks for. */
export interface DebianTarget {
  /** The suite given to mmdebstrap and written into the image's sources. */
  suite: string;
  /** The tag the image gets, as asked (`bookworm-slim`, `12`, `latest`). */
  tag: string;
  slim: boolean;
}

const codenames = ['bullseye', 'bookworm', 'trixie', 'forky', 'sid'];
const aliases = ['oldoldstable', 'oldstable', 'stable', 'testing', 'unstable'];
const numbers: Record<string, string> = {
  '11': 'bullseye',
  '12': 'bookworm',
  '13': 'trixie',
  '14': 'forky',
};
/** Suites without -updates and -security archives. */
const rolling = new Set(['sid', 'unstable']);

/** The suite of a `debian` tag, or an InvalidArgumentError naming the ones berth makes. */
export function debianTarget(tag: string): DebianTarget {
  const slim = tag.endsWith('-slim');
  const base = slim ? tag.slice(0, -'-slim'.length) : tag;
  const suite = base === 'latest' && !slim ? 'stable' : (numbers[base] ?? base);
  if (!codenames.includes(suite) && !aliases.includes(suite)) {
    throw new InvalidArgumentError(
      `unknown Debian suite "${base}" in debian:${tag}: berth bootstraps debian:<suite>[-slim] for ` +
        `${[...codenames, ...aliases].join(', ')} or ${Object.keys(numbers).join(', ')} (and latest)`,
    );
  }
  return { suite, tag, slim };
}

/** An apt source: a mirror and the suites it was listed with. */
export interface AptSource {
  uri: string;
  suites: string[];
}

/** The `deb` entries of a one-line sources.list (`deb [opts] uri suite comp...`). */
export function parseSourcesList(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (m && m[1] && m[2]) out.push({ uri: m[1], suites: [m[2]] });
  }
  return out;
}

/** The `deb` entries of a deb822 .sources file, skipping `Enabled: no` stanzas. */
export function parseDeb822(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = '';
    for (const raw of stanza.split('\n')) {
      if (raw.startsWith('#')) continue;
      const cont = /^\s+(\S.*)$/.exec(raw);
      if (cont && last) {
        fields.set(last, `${fields.get(last) ?? ''} ${cont[1] ?? ''}`);
        continue;
      }
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(raw);
      if (m && m[1]) {
        last = m[1].toLowerCase();
        fields.set(last, (m[2] ?? '').trim());
      }
    }
    const types = (fields.get('types') ?? '').split(/\s+/);
    if (!types.includes('deb') || (fields.get('enabled') ?? 'yes').toLowerCase() === 'no') continue;
    const suites = (fields.get('suites') ?? '').split(/\s+/).filter(Boolean);
    for (const uri of (fields.get('uris') ?? '').split(/\s+/).filter(Boolean)) {
      out.push({ uri, suites });
    }
  }
  return out;
}

/** Debian's archive and its security archive as the host's apt sources name them. */
export interface DebianMirrors {
  archive: string;
  security?: string;
}

/**
 * The mirrors to build from: the first source listed with a Debian suite (a codename or an
 * alias, possibly `-updates`/`-backports`) for the archive, and the first listed with a
 * `-security` suite for security updates.
 */
export function pickMirrors(sources: readonly AptSource[]): DebianMirrors | undefined {
  const known = (s: string): boolean => {
    const base = s.replace(/-(updates|backports|proposed-updates)$/, '');
    return codenames.includes(base) || aliases.includes(base);
  };
  const archive = sources.find((s) => s.suites.some(known));
  if (!archive) return undefined;
  const security = sources.find((s) =>
    s.suites.some((x) => x.endsWith('-security') || x.endsWith('/updates')),
  );
  return { archive: archive.uri, ...(security ? { security: security.uri } : {}) };
}

/** Reads the host's apt sources (sources.list and sources.list.d/*.list, *.sources). */
export async function hostMirrors(etcApt = '/etc/apt'): Promise<DebianMirrors> {
  const sources: AptSource[] = [];
  const read = async (p: string): Promise<string> => fs.readFile(p, 'utf8').catch(() => '');
  sources.push(...parseSourcesList(await read(path.join(etcApt, 'sources.list'))));
  const dir = path.join(etcApt, 'sources.list.d');
  const names = (await fs.readdir(dir).catch(() => [] as string[])).sort();
  for (const n of names) {
    if (n.endsWith('.list')) sources.push(...parseSourcesList(await read(path.join(dir, n))));
    if (n.endsWith('.sources')) sources.push(...parseDeb822(await read(path.join(dir, n))));
  }
  const mirrors = pickMirrors(sources);
  if (!mirrors) {
    throw new UnavailableError(
      `no Debian mirror in the host's apt sources (${etcApt}/sources.list, ${dir}): ` +
        'cannot bootstrap a Debian image',
    );
  }
  return mirrors;
}

/** The suites an image of `suite` takes packages from, each with its mirror. */
function suiteLines(
  target: DebianTarget,
  mirrors: DebianMirrors,
): { uri: string; suites: string[] }[] {
  const out = [
    {
      uri: mirrors.archive,
      suites: rolling.has(target.suite)
        ? [target.suite]
        : [target.suite, `${target.suite}-updates`],
    },
  ];
  if (!rolling.has(target.suite) && mirrors.security) {
    out.push({ uri: mirrors.security, suites: [`${target.suite}-security`] });
  }
  return out;
}

/** The image's /etc/apt/sources.list.d/debian.sources, in deb822 as Debian's images have. */
export function debianSources(target: DebianTarget, mirrors: DebianMirrors): string {
  return suiteLines(target, mirrors)
    .map(
      (l) =>
        `Types: deb\nURIs: ${l.uri}\nSuites: ${l.suites.join(' ')}\nComponents: main\n` +
        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n',
    )
    .join('\n');
}

/** What dpkg leaves out of a `-slim` image: documentation except copyrights, manuals, locales. */
export const slimExcludes = [
  '/usr/share/doc/*',
  '/usr/share/groff/*',
  '/usr/share/info/*',
  '/usr/share/linda/*',
  '/usr/share/lintian/overrides/*',
  '/usr/share/locale/*',
  '/usr/share/man/*',
];
export const slimIncludes = ['/usr/share/doc/*/copyright'];

/** Files every image gets, as path (under the root) and content, with their modes. */
export function containerConfigFiles(
  target: DebianTarget,
  mirrors: DebianMirrors,
): { path: string; content: string; mode: number }[] {
  const files = [
    {
      // Services must not start while a package installs in an image build.
      path: 'usr/sbin/policy-rc.d',
      content:
        '#!/bin/sh\n# Written by berth: no service starts inside a container build.\nexit 101\n',
      mode: 0o755,
    },
    {
      path: 'etc/dpkg/dpkg.cfg.d/docker-apt-speedup',
      content: '# Written by berth: image builds need no fsync per file.\nforce-unsafe-io\n',
      mode: 0o644,
    },
    {
      path: 'etc/apt/apt.conf.d/docker-clean',
      content:
        '# Written by berth: no binary package caches kept in the image.\n' +
        'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n',
      mode: 0o644,
    },
    {
      path: 'etc/apt/apt.conf.d/docker-autoremove-suggests',
      content:
        '# Written by berth: packages only suggested may be autoremoved.\nApt::AutoRemove::SuggestsImportant "false";\n',
      mode: 0o644,
    },
    {
      path: 'etc/apt/apt.conf.d/docker-gzip-indexes',
      content: '# Written by berth: package lists stay compressed.\nAcquire::GzipIndexes "true";\n',
      mode: 0o644,
    },
    {
      path: 'etc/apt/apt.conf.d/docker-no-languages',
      content:
        '# Written by berth: no translated package descriptions.\nAcquire::Languages "none";\n',
      mode: 0o644,
    },
    {
      path: 'etc/apt/sources.list.d/debian.sources',
      content: debianSources(target, mirrors),
      mode: 0o644,
    },
  ];
  if (target.slim) {
    files.push({
      path: 'etc/dpkg/dpkg.cfg.d/docker',
      content:
        '# Written by berth for a -slim image: no documentation, manuals or locales.\n' +
        slimExcludes.map((p) => `path-exclude ${p}\n`).join('') +
        slimIncludes.map((p) => `path-include ${p}\n`).join(''),
      mode: 0o644,
    });
  }
  return files;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A shell script writing `files` under "$1" (the chroot), for an mmdebstrap hook. */
function writeFilesScript(files: { path: string; content: string; mode: number }[]): string {
  return files
    .map(
      (f) =>
        `mkdir -p "$1"/${shellQuote(path.posix.dirname(f.path))} && ` +
        `printf '%s' ${shellQuote(f.content)} > "$1"/${shellQuote(f.path)} && ` +
        `chmod ${f.mode.toString(8)} "$1"/${shellQuote(f.path)}`,
    )
    .join('\n');
}

/** Removes what the slim excludes name from a tree that dpkg filled before they applied. */
function slimScript(): string {
  const keep = slimIncludes.map((p) => `! -path ${shellQuote(`.${p}`)}`).join(' ');
  return slimExcludes
    .map((p) => {
      const dir = `.${p.replace(/\/\*$/, '')}`;
      return (
        `if [ -d ${shellQuote(dir)} ]; then find ${shellQuote(dir)} -mindepth 1 ! -type d ${keep} -delete; ` +
        `find ${shellQuote(dir)} -mindepth 1 -depth -type d -empty -delete; fi`
      );
    })
    .join('\n');
}

/** mmdebstrap's arguments for `target`, writing the tarball to standard output. */
export function mmdebstrapArgs(target: DebianTarget, mirrors: DebianMirrors): string[] {
  const files = containerConfigFiles(target, mirrors);
  // Written before anything installs: dpkg honours its excludes from the first package, the
  // policy serves the build too (mmdebstrap would otherwise put in its own and remove it at
  // the end), and apt reads the chroot's apt.conf.d, so it makes no caches along the way.
  const isEarly = (p: string): boolean =>
    p.startsWith('etc/dpkg/') ||
    p.startsWith('etc/apt/apt.conf.d/') ||
    p === 'usr/sbin/policy-rc.d';
  const early = files.filter((f) => isEarly(f.path));
  const late = files.filter((f) => !isEarly(f.path));
  const customize = [
    'set -e',
    writeFilesScript(late),
    // The host's name and resolver are no part of an image; the engine provides both.
    'rm -f "$1/etc/apt/sources.list" "$1/etc/hostname" "$1/etc/resolv.conf"',
    // Caches apt made while building (the merged-/usr hook queries it); images carry none.
    'rm -f "$1"/var/cache/apt/*.bin',
    ...(target.slim ? ['cd "$1"', slimScript()] : []),
  ].join('\n');
  return [
    '--variant=minbase',
    '--mode=unshare',
    '--format=tar',
    '--hook-dir=/usr/share/mmdebstrap/hooks/maybe-merged-usr',
    '--skip=chroot/policy-rc.d',
    `--setup-hook=set -e\n${writeFilesScript(early)}`,
    `--customize-hook=${customize}`,
    target.suite,
    '-',
    ...suiteLines(target, mirrors).map((l) => `deb ${l.uri} ${l.suites.join(' ')} main`),
  ];
}

/** PATH in Docker Hub's debian images. */
export const debianPath = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface DebianBuild {
  /** The tarball as mmdebstrap writes it. */
  tar: Readable;
  /** Settles when mmdebstrap exits: rejects when it failed (with its last words) or was aborted. */
  done: Promise<void>;
}

/**
 * Runs mmdebstrap for `target`: the tarball on `tar`, each progress line of its standard
 * error to `onProgress`. `signal` stops it (SIGTERM, then SIGKILL).
 */
export function debianRootfs(
  target: DebianTarget,
  mirrors: DebianMirrors,
  options: { onProgress?: (line: string) => void; signal?: AbortSignal; binary?: string } = {},
): DebianBuild {
  const binary = options.binary ?? 'mmdebstrap';
  const child = spawn(binary, mmdebstrapArgs(target, mirrors), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LC_ALL: 'C.UTF-8', DEBIAN_FRONTEND: 'noninteractive' },
  });
  const tail: string[] = [];
  let pending = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    pending += s;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const l of lines) {
      if (l.trim() === '') continue;
      tail.push(l);
      if (tail.length > 20) tail.shift();
      options.onProgress?.(l);
    }
  });
  let killTimer: NodeJS.Timeout | undefined;
  const abort = (): void => {
    child.kill('SIGTERM');
    killTimer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  };
  options.signal?.addEventListener('abort', abort, { once: true });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (cause) =>
      reject(new SystemError(`cannot run ${binary} (is mmdebstrap installed?)`, { cause })),
    );
    child.on('close', (code, sig) => {
      clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', abort);
      if (pending.trim() !== '') tail.push(pending);
      if (code === 0) return resolve();
      if (options.signal?.aborted) return reject(new SystemError('Debian bootstrap cancelled'));
      const why = tail.filter((l) => /^E:|error|fail/i.test(l)).pop() ?? tail.pop() ?? '';
      reject(
        new SystemError(
          `mmdebstrap ${target.suite} failed (${code !== null ? `exit ${code}` : sig}): ${why.trim()}`,
        ),
      );
    });
  });
  return { tar: child.stdout, done };
}
