import type { Io, Command, CommandContext } from './command.js';
import { ExitError } from './command.js';
import { parseArgs, flagHelp, UsageError, type FlagSpec } from './args.js';
import { daemonMessage } from './errors.js';
import { errnoCode } from '../errors/index.js';
import {
  ClientError,
  DEFAULT_HOST,
  newClient,
  type ClientTls,
  type EngineClient,
} from '../client/client.js';
import { clientTls, TlsConfigError, type TlsFlags } from '../client/tls.js';

type Loader = () => Promise<{ command: Command }>;

// Each command loads only its own module: start-up time is part of `berth run`.
const COMMANDS: Record<string, Loader> = {
  run: () => import('./commands/run.js'),
  create: () => import('./commands/create.js'),
  start: () => import('./commands/start.js'),
  stop: () => import('./commands/stop.js'),
  kill: () => import('./commands/kill.js'),
  restart: () => import('./commands/restart.js'),
  rm: () => import('./commands/rm.js'),
  ps: () => import('./commands/ps.js'),
  inspect: () => import('./commands/inspect.js'),
  logs: () => import('./commands/logs.js'),
  wait: () => import('./commands/wait.js'),
  rename: () => import('./commands/rename.js'),
  pause: () => import('./commands/pause.js'),
  unpause: () => import('./commands/unpause.js'),
  top: () => import('./commands/top.js'),
  stats: () => import('./commands/stats.js'),
  update: () => import('./commands/update.js'),
  diff: () => import('./commands/diff.js'),
  cp: () => import('./commands/cp.js'),
  port: () => import('./commands/port.js'),
  exec: () => import('./commands/exec.js'),
  attach: () => import('./commands/attach.js'),
  images: () => import('./commands/images.js'),
  rmi: () => import('./commands/rmi.js'),
  tag: () => import('./commands/tag.js'),
  history: () => import('./commands/history.js'),
  import: () => import('./commands/import.js'),
  load: () => import('./commands/load.js'),
  save: () => import('./commands/save.js'),
  export: () => import('./commands/export.js'),
  commit: () => import('./commands/commit.js'),
  pull: () => import('./commands/pull.js'),
  push: () => import('./commands/push.js'),
  login: () => import('./commands/login.js'),
  logout: () => import('./commands/logout.js'),
  search: () => import('./commands/search.js'),
  version: () => import('./commands/version.js'),
  info: () => import('./commands/info.js'),
  events: () => import('./commands/events.js'),
  build: () => import('./commands/build.js'),
  'builder prune': () => import('./commands/builder-prune.js'),
  'system df': () => import('./commands/system-df.js'),
  'system prune': () => import('./commands/system-prune.js'),
  'container prune': () => import('./commands/container-prune.js'),
  'image prune': () => import('./commands/image-prune.js'),
  'image inspect': () => import('./commands/image-inspect.js'),
  'image bootstrap': () => import('./commands/image-bootstrap.js'),
  'container inspect': () => import('./commands/container-inspect.js'),
  'registry serve': () => import('./commands/registry-serve.js'),
  'registry gc': () => import('./commands/registry-gc.js'),
  'network create': () =>
    import('./commands/network.js').then((m) => ({ command: m.networkCreate })),
  'network ls': () => import('./commands/network.js').then((m) => ({ command: m.networkLs })),
  'network inspect': () =>
    import('./commands/network.js').then((m) => ({ command: m.networkInspect })),
  'network rm': () => import('./commands/network.js').then((m) => ({ command: m.networkRm })),
  'network prune': () => import('./commands/network.js').then((m) => ({ command: m.networkPrune })),
  'network connect': () =>
    import('./commands/network.js').then((m) => ({ command: m.networkConnect })),
  'network disconnect': () =>
    import('./commands/network.js').then((m) => ({ command: m.networkDisconnect })),
  'volume create': () => import('./commands/volume-create.js'),
  'volume ls': () => import('./commands/volume-ls.js'),
  'volume inspect': () => import('./commands/volume-inspect.js'),
  'volume rm': () => import('./commands/volume-rm.js'),
  'volume prune': () => import('./commands/volume-prune.js'),
};

/** `berth container ls` and friends: group → subcommand → command key. */
const GROUPS: Record<string, Record<string, string>> = {
  container: {
    ls: 'ps',
    list: 'ps',
    ps: 'ps',
    run: 'run',
    create: 'create',
    start: 'start',
    stop: 'stop',
    kill: 'kill',
    restart: 'restart',
    rm: 'rm',
    remove: 'rm',
    inspect: 'container inspect',
    logs: 'logs',
    wait: 'wait',
    rename: 'rename',
    pause: 'pause',
    unpause: 'unpause',
    top: 'top',
    stats: 'stats',
    update: 'update',
    diff: 'diff',
    cp: 'cp',
    port: 'port',
    exec: 'exec',
    attach: 'attach',
    export: 'export',
    commit: 'commit',
    prune: 'container prune',
  },
  image: {
    ls: 'images',
    list: 'images',
    rm: 'rmi',
    remove: 'rmi',
    inspect: 'image inspect',
    prune: 'image prune',
    history: 'history',
    tag: 'tag',
    save: 'save',
    load: 'load',
    import: 'import',
    bootstrap: 'image bootstrap',
    build: 'build',
    pull: 'pull',
    push: 'push',
  },
  builder: { build: 'build', prune: 'builder prune' },
  network: {
    create: 'network create',
    ls: 'network ls',
    list: 'network ls',
    inspect: 'network inspect',
    rm: 'network rm',
    remove: 'network rm',
    prune: 'network prune',
    connect: 'network connect',
    disconnect: 'network disconnect',
  },
  volume: {
    create: 'volume create',
    ls: 'volume ls',
    list: 'volume ls',
    inspect: 'volume inspect',
    rm: 'volume rm',
    remove: 'volume rm',
    prune: 'volume prune',
  },
  system: { df: 'system df', prune: 'system prune', info: 'info', events: 'events' },
  registry: { serve: 'registry serve', gc: 'registry gc' },
};

const GLOBAL_FLAGS: FlagSpec[] = [
  { long: 'host', short: 'H', kind: 'string', description: 'Daemon socket to connect to' },
  { long: 'debug', short: 'D', kind: 'bool', description: 'Enable debug mode' },
  { long: 'log-level', short: 'l', kind: 'string', description: 'Set the logging level' },
  { long: 'version', short: 'v', kind: 'bool', description: 'Print version information and quit' },
  { long: 'help', kind: 'bool', description: 'Print usage' },
  { long: 'config', kind: 'string', hidden: true },
  { long: 'context', short: 'c', kind: 'string', hidden: true },
  { long: 'tls', kind: 'bool', description: 'Use TLS; implied by --tlsverify' },
  { long: 'tlscacert', kind: 'string', description: 'Trust certs signed only by this CA' },
  { long: 'tlscert', kind: 'string', description: 'Path to TLS certificate file' },
  { long: 'tlskey', kind: 'string', description: 'Path to TLS key file' },
  { long: 'tlsverify', kind: 'bool', description: 'Use TLS and verify the remote' },
];

const USAGE = `
Usage:  berth [OPTIONS] COMMAND

A container engine that speaks the Docker Engine API

Common Commands:
  run         Create and run a new container from an image
  exec        Execute a command in a running container
  ps          List containers
  images      List images
  version     Show the berth version information
  info        Display system-wide information

Management Commands:
  compose     Define and run multi-container applications
  container   Manage containers
  builder     Manage builds
  image       Manage images
  registry    Serve an OCI registry
  network     Manage networks
  system      Manage berth

Commands:
  attach build commit cp create diff events export history import inspect kill load login
  logout logs pause port pull push rename restart rm rmi save search start stats stop tag top
  unpause update wait daemon

Global Options:
${flagHelp(GLOBAL_FLAGS)}

Run 'berth COMMAND --help' for more information on a command.
`;

/** The TLS global flags as the docker CLI reads them (with DOCKER_TLS_VERIFY, DOCKER_CERT_PATH). */
function globalTls(
  flags: { bool(name: string): boolean; string(name: string): string | undefined },
  env: NodeJS.ProcessEnv,
): ClientTls | undefined {
  const given: TlsFlags = {};
  if (flags.bool('tls')) given.tls = true;
  if (flags.bool('tlsverify')) given.tlsverify = true;
  for (const k of ['tlscacert', 'tlscert', 'tlskey'] as const) {
    const v = flags.string(k);
    if (v !== undefined) given[k] = v;
  }
  return clientTls(given, env);
}

/** Chooses the daemon: -H, then BERTH_HOST, then DOCKER_HOST, then the default socket. */
export function selectHost(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return flag || env.BERTH_HOST || env.DOCKER_HOST || DEFAULT_HOST;
}

function splitGlobals(argv: string[]): { globals: string[]; rest: string[] } {
  const globals: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const a = argv[i] as string;
    if (!a.startsWith('-') || a === '-') break;
    globals.push(a);
    i++;
    const needsValue = [
      ...['-H', '--host', '-l', '--log-level', '--config', '-c', '--context'],
      ...['--tlscacert', '--tlscert', '--tlskey'],
    ];
    if (needsValue.includes(a) && i < argv.length) globals.push(argv[i++] as string);
  }
  return { globals, rest: argv.slice(i) };
}

/** Runs the CLI with the given streams and returns the exit code (for tests and main). */
export async function runCli(
  argv: string[],
  io: Io,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const { globals, rest } = splitGlobals(argv);
  let hostFlag: string | undefined;
  let tls: ClientTls | undefined;
  try {
    const g = parseArgs(globals, GLOBAL_FLAGS);
    hostFlag = g.flags.string('host');
    tls = globalTls(g.flags, env);
    if (g.flags.bool('version')) {
      io.stdout.write('berth version 0.1.0\n');
      return 0;
    }
    if (g.flags.bool('help') || rest.length === 0) {
      (rest.length === 0 && !g.flags.bool('help') ? io.stderr : io.stdout).write(USAGE.trimStart());
      return rest.length === 0 && !g.flags.bool('help') ? 1 : 0;
    }
  } catch (err: unknown) {
    if (err instanceof UsageError) {
      io.stderr.write(`berth: ${err.message}\nSee 'berth --help'.\n`);
      return 125;
    }
    if (err instanceof TlsConfigError) {
      io.stderr.write(`berth: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const host = selectHost(hostFlag, env);
  const first = rest[0] as string;
  if (first === 'daemon') {
    // `berth daemon` starts the engine, a layer the CLI may not import (DESIGN.md, Layers):
    // the path is computed so that only this one command loads it, at run time.
    const daemonPath = ['..', 'daemon', 'main.js'].join('/');
    const mod = (await import(daemonPath)) as { runDaemon(argv: string[]): Promise<void> };
    await mod.runDaemon(rest.slice(1));
    return 0;
  }
  if (first === 'compose') {
    // The Compose client lives in src/compose (a sibling client-side layer) with its own
    // global flags before the subcommand, so it takes the rest of argv as it is.
    const { runCompose } = await import('../compose/cli/index.js');
    let composeClient: EngineClient | undefined;
    return runCompose(
      {
        ...io,
        name: 'compose',
        host,
        client: () => {
          composeClient ??= newClient(
            host,
            env.DOCKER_API_VERSION ? { apiVersion: env.DOCKER_API_VERSION } : {},
          );
          return composeClient;
        },
      },
      rest.slice(1),
      env,
    );
  }
  let key = first;
  let args = rest.slice(1);
  let name = first;
  const group = GROUPS[first];
  if (group) {
    const sub = rest[1];
    if (sub === undefined || sub === '--help' || sub === 'help') {
      io.stdout.write(
        `\nUsage:  berth ${first} COMMAND\n\nCommands:\n${Object.keys(group)
          .map((k) => `  ${k}`)
          .join('\n')}\n`,
      );
      return sub === undefined ? 1 : 0;
    }
    const target = group[sub];
    if (target === undefined) {
      io.stderr.write(
        `berth: '${first} ${sub}' is not a berth command.\nSee 'berth ${first} --help'\n`,
      );
      return 125;
    }
    key = target;
    args = rest.slice(2);
    name = `${first} ${sub}`;
  }
  const loader = COMMANDS[key];
  if (!loader) {
    io.stderr.write(`berth: '${first}' is not a berth command.\nSee 'berth --help'\n`);
    return 125;
  }
  const { command } = await loader();
  let client: EngineClient | undefined;
  const ctx: CommandContext = {
    ...io,
    name,
    host,
    client: () => {
      client ??= newClient(host, {
        ...(env.DOCKER_API_VERSION ? { apiVersion: env.DOCKER_API_VERSION } : {}),
        ...(tls ? { tls } : {}),
      });
      return client;
    },
  };
  try {
    if (
      args.includes('--help') &&
      !args.slice(0, args.indexOf('--help')).some((a) => !a.startsWith('-'))
    ) {
      io.stdout.write(
        `\nUsage:  berth ${name} ${command.usage}\n\n${command.description}\n\nOptions:\n${flagHelp([...command.flags, { long: 'help', kind: 'bool', description: 'Print usage' }])}\n`,
      );
      return 0;
    }
    const parsed = parseArgs(args, command.flags, { interspersed: command.interspersed ?? true });
    if (command.minArgs !== undefined && parsed.args.length < command.minArgs) {
      const n = command.minArgs;
      throw new UsageError(
        `"berth ${name}" requires ${n === 1 ? 'at least 1 argument' : `at least ${n} arguments`}.\nSee 'berth ${name} --help'.\n\nUsage:  berth ${name} ${command.usage}\n\n${command.description}`,
      );
    }
    if (command.maxArgs !== undefined && parsed.args.length > command.maxArgs) {
      throw new UsageError(
        `"berth ${name}" requires ${command.maxArgs === 0 ? 'no arguments' : `at most ${command.maxArgs} argument${command.maxArgs === 1 ? '' : 's'}`}.\nSee 'berth ${name} --help'.`,
      );
    }
    return await command.run(ctx, parsed);
  } catch (err: unknown) {
    if (err instanceof UsageError) {
      if (err.message.includes('\nSee ')) io.stderr.write(`berth: ${err.message}\n`);
      else io.stderr.write(`berth: ${err.message}\nSee 'berth ${name} --help'.\n`);
      return 125;
    }
    if (err instanceof ExitError) {
      if (err.message !== '') io.stderr.write(`${err.message}\n`);
      return err.code;
    }
    if (err instanceof ClientError) {
      io.stderr.write(`${daemonMessage(err)}\n`);
      return 1;
    }
    throw err;
  }
}

/** The entry point of bin/berth. */
export async function main(argv: string[]): Promise<void> {
  // A reader that goes away (`berth images -q | head -1`) ends the CLI quietly, as SIGPIPE ends
  // the docker CLI: 141, nothing printed.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: unknown) => {
      if (errnoCode(err) === 'EPIPE') process.exit(141);
      throw err;
    });
  }
  let code: number;
  try {
    code = await runCli(argv, {
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
    });
  } catch (err: unknown) {
    process.stderr.write(`berth: ${err instanceof Error ? err.message : String(err)}\n`);
    code = 1;
  }
  // A pipe that is full makes Node queue stdout writes: exit only once both are flushed
  // (an empty write's callback runs after everything queued before it). process.exit still
  // ends what is left running, such as a stdin reader.
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.writableLength === 0) resolve();
    else stream.write('', () => resolve());
  });
}
