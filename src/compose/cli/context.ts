import { readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Flags, FlagSpec } from '../../cli/args.js';
import type { CommandContext } from '../../cli/command.js';
import { NoConfigFileError } from '../errors.js';
import { loadProject } from '../loader.js';
import type { Project } from '../model.js';
import { newProgress } from '../progress.js';
import type { Session } from '../reconcile.js';

/** The flags `docker compose` takes before its subcommand. */
export const GLOBAL_FLAGS: FlagSpec[] = [
  { long: 'file', short: 'f', kind: 'list', description: 'Compose configuration files' },
  { long: 'project-name', short: 'p', kind: 'string', description: 'Project name' },
  {
    long: 'project-directory',
    kind: 'string',
    description: 'Specify an alternate working directory',
  },
  { long: 'env-file', kind: 'list', description: 'Specify an alternate environment file' },
  { long: 'profile', kind: 'list', description: 'Specify a profile to enable' },
  {
    long: 'ansi',
    kind: 'string',
    description: 'Control when to print ANSI control characters ("never"|"always"|"auto")',
  },
  {
    long: 'progress',
    kind: 'string',
    description: 'Set type of progress output (auto, tty, plain, quiet)',
  },
  { long: 'parallel', kind: 'number', description: 'Control max parallelism, -1 for unlimited' },
  {
    long: 'compatibility',
    kind: 'bool',
    description: 'Run compose in backward compatibility mode',
  },
  { long: 'dry-run', kind: 'bool', description: 'Execute command in dry run mode' },
  {
    long: 'all-resources',
    kind: 'bool',
    description: 'Include all resources, even those not used by services',
  },
];

export interface ComposeContext extends CommandContext {
  globals: Flags;
  env: Record<string, string | undefined>;
  cwd: string;
}

/** Loads the project the global flags name; `services` are those named on the command line. */
export function project(
  ctx: ComposeContext,
  services: string[] = [],
  options: { skipChecks?: boolean } = {},
): Project {
  const g = ctx.globals;
  const files = g.list('file');
  const p = loadProject({
    cwd: ctx.cwd,
    files,
    ...(files.includes('-') ? { stdin: readFileSync(0, 'utf8') } : {}),
    ...(g.string('project-directory')
      ? { projectDirectory: g.string('project-directory') as string }
      : {}),
    ...(g.string('project-name') ? { projectName: g.string('project-name') as string } : {}),
    envFiles: g.list('env-file'),
    profiles: g.list('profile'),
    services,
    env: ctx.env,
    ...(options.skipChecks ? { skipChecks: true } : {}),
  });
  for (const w of p.warnings) ctx.stderr.write(`WARN[0000] ${w}\n`);
  return p;
}

/**
 * The project name for commands that work without a file (down, ps, logs with `-p`): from -p or
 * COMPOSE_PROJECT_NAME when no file is found.
 */
export function projectOrName(ctx: ComposeContext, services: string[] = []): Project {
  try {
    return project(ctx, services);
  } catch (err: unknown) {
    const name = ctx.globals.string('project-name') ?? ctx.env.COMPOSE_PROJECT_NAME;
    if (name && ctx.globals.list('file').length === 0 && err instanceof NoConfigFileError)
      return {
        name,
        workingDir: ctx.cwd,
        configFiles: [],
        environment: {},
        services: {},
        disabledServices: {},
        networks: {},
        volumes: {},
        secrets: {},
        configs: {},
        extensions: {},
        profiles: [],
        warnings: [],
      };
    throw err;
  }
}

export function session(ctx: ComposeContext, title?: string): Session {
  const mode = ctx.globals.string('progress') ?? 'auto';
  const stderr = ctx.stderr as Writable & { isTTY?: boolean };
  const tty =
    mode === 'tty' ||
    (mode === 'auto' && stderr.isTTY === true && ctx.globals.string('ansi') !== 'never');
  const out: Writable & { isTTY?: boolean } =
    mode === 'quiet'
      ? Object.assign(Object.create(stderr) as Writable, { write: () => true, isTTY: false })
      : Object.assign(Object.create(stderr) as Writable, {
          write: (s: string) => stderr.write(s),
          isTTY: tty,
        });
  return {
    client: ctx.client(),
    progress: newProgress(out, title ? { title } : {}),
    stderr: ctx.stderr,
  };
}
