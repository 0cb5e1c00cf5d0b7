import type { Writable } from 'node:stream';
import type { ContainerSummary } from '../../client/client.js';
import { parseArgs, type FlagSpec, type Parsed } from '../../cli/args.js';
import { ExitError } from '../../cli/command.js';
import { renderRows } from '../../cli/format.js';
import { ago, shortId } from '../../cli/human.js';
import { formatPorts } from '../../cli/commands/ps.js';
import { buildImage, pullImage, splitRef } from '../build.js';
import { renderConfig } from '../config-output.js';
import { nameOf, projectContainers } from '../engine.js';
import { ComposeError } from '../errors.js';
import { serviceHash } from '../hash.js';
import { COMPOSE_VERSION, LABEL } from '../labels.js';
import { containerCreatePlan, imageName } from '../mapping.js';
import type { Project, Service } from '../model.js';
import {
  createFromPlan,
  down,
  ensureImages,
  ensureNetworks,
  ensureVolumes,
  oneoffName,
  targetServices,
  up,
  type PullMode,
} from '../reconcile.js';
import { project, projectOrName, session, type ComposeContext } from './context.js';
import { logName, newLogPrinter, pumpLogs } from './logs.js';

export interface Subcommand {
  usage: string;
  description: string;
  flags: FlagSpec[];
  /** False: flags end at the first positional (exec, run). */
  interspersed?: boolean;
  run(ctx: ComposeContext, parsed: Parsed): Promise<number>;
}

const TIMEOUT: FlagSpec = {
  long: 'timeout',
  short: 't',
  kind: 'number',
  description: 'Specify a shutdown timeout in seconds',
};

function scales(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) {
    const [svc, n] = v.split('=');
    if (!svc || n === undefined || !/^\d+$/.test(n))
      throw new ComposeError(`invalid --scale value: ${v}`);
    out[svc] = Number(n);
  }
  return out;
}

function pullMode(v: string | undefined): PullMode | undefined {
  if (v === undefined) return undefined;
  if (!['always', 'missing', 'never', 'build', 'policy'].includes(v))
    throw new ComposeError(`invalid --pull option "${v}"`);
  return v as PullMode;
}

function isTTY(w: Writable): boolean {
  return (w as Writable & { isTTY?: boolean }).isTTY === true;
}

async function containersOf(
  ctx: ComposeContext,
  p: Project,
  services: string[],
  all = false,
): Promise<ContainerSummary[]> {
  for (const s of services)
    if (!(s in p.services) && !(s in p.disabledServices) && Object.keys(p.services).length > 0)
      throw new ComposeError(`no such service: ${s}`);
  return projectContainers(ctx.client(), p.name, { services, oneoff: false, all });
}

/** Follows the logs of containers until they all stop (the attached part of `up`). */
async function attach(
  ctx: ComposeContext,
  list: ContainerSummary[],
  options: { abortOnExit?: boolean; exitCodeFrom?: string; timeout?: number; color: boolean },
): Promise<number> {
  const client = ctx.client();
  const printer = newLogPrinter(ctx.stdout, list, { color: options.color });
  printer.note(`Attaching to ${list.map(logName).join(', ')}`);
  const abort = new AbortController();
  let code = 0;
  let stopping = false;
  const stopAll = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await Promise.all(
      list.map((c) =>
        client
          .containerStop(c.Id, options.timeout === undefined ? {} : { timeout: options.timeout })
          .catch(() => undefined),
      ),
    );
  };
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    // As docker compose: an interrupted `up` exits 130 once its containers are stopped.
    code = 130;
    if (interrupts > 1) {
      for (const c of list) void client.containerKill(c.Id).catch(() => undefined);
      return;
    }
    printer.note('Gracefully stopping... (press Ctrl+C again to force)');
    void stopAll();
  };
  process.on('SIGINT', onSigint);
  try {
    const logs = list.map((c) =>
      pumpLogs(client, c, printer, { follow: true }, abort.signal).catch(() => undefined),
    );
    const exits = list.map(async (c) => {
      const { result } = await client.containerWait(c.Id, 'not-running');
      const r = await result;
      await logs[list.indexOf(c)];
      printer.note(`${logName(c)} exited with code ${r.StatusCode}`);
      const svc = c.Labels?.[LABEL.service];
      if (options.exitCodeFrom ? svc === options.exitCodeFrom : options.abortOnExit && !stopping)
        code = r.StatusCode;
      if (options.abortOnExit && !stopping) {
        printer.note('Aborting on container exit...');
        await stopAll();
      }
    });
    await Promise.all(exits);
    abort.abort();
  } finally {
    process.off('SIGINT', onSigint);
  }
  return code;
}

const up_: Subcommand = {
  usage: '[OPTIONS] [SERVICE...]',
  description: 'Create and start containers',
  flags: [
    {
      long: 'detach',
      short: 'd',
      kind: 'bool',
      description: 'Detached mode: Run containers in the background',
    },
    { long: 'build', kind: 'bool', description: 'Build images before starting containers' },
    { long: 'no-build', kind: 'bool', description: "Don't build an image, even if it's policy" },
    {
      long: 'pull',
      kind: 'string',
      description: 'Pull image before running ("always"|"missing"|"never")',
    },
    {
      long: 'force-recreate',
      kind: 'bool',
      description: "Recreate containers even if their configuration and image haven't changed",
    },
    {
      long: 'no-recreate',
      kind: 'bool',
      description: "If containers already exist, don't recreate them",
    },
    { long: 'no-start', kind: 'bool', description: "Don't start the services after creating them" },
    { long: 'no-deps', kind: 'bool', description: "Don't start linked services" },
    {
      long: 'remove-orphans',
      kind: 'bool',
      description: 'Remove containers for services not defined in the Compose file',
    },
    { long: 'scale', kind: 'list', description: 'Scale SERVICE to NUM instances' },
    {
      long: 'wait',
      kind: 'bool',
      description: 'Wait for services to be running|healthy. Implies detached mode',
    },
    {
      long: 'wait-timeout',
      kind: 'number',
      description: 'Maximum duration to wait for the project to be running|healthy',
    },
    {
      long: 'abort-on-container-exit',
      kind: 'bool',
      description: 'Stops all containers if any container was stopped',
    },
    {
      long: 'exit-code-from',
      kind: 'string',
      description: 'Return the exit code of the selected service container',
    },
    { long: 'no-color', kind: 'bool', description: 'Produce monochrome output' },
    { long: 'quiet-pull', kind: 'bool', description: 'Pull without printing progress information' },
    {
      long: 'attach-dependencies',
      kind: 'bool',
      description: 'Automatically attach to log output of dependent services',
    },
    TIMEOUT,
  ],
  async run(ctx, { flags, args }) {
    if (flags.bool('force-recreate') && flags.bool('no-recreate'))
      throw new ComposeError('--force-recreate and --no-recreate are incompatible');
    const detach = flags.bool('detach') || flags.bool('wait');
    if (detach && (flags.bool('abort-on-container-exit') || flags.has('exit-code-from')))
      throw new ComposeError(
        '--abort-on-container-exit and --exit-code-from are incompatible with --detach',
      );
    const p = project(ctx, args);
    const exitFrom = flags.string('exit-code-from');
    if (exitFrom !== undefined && !(exitFrom in p.services))
      throw new ComposeError(`no such service: ${exitFrom}`);
    const s = session(ctx);
    const timeout = flags.number('timeout');
    const byService = await up(s, p, {
      services: args,
      noDeps: flags.bool('no-deps'),
      build: flags.bool('build'),
      noBuild: flags.bool('no-build'),
      ...(pullMode(flags.string('pull'))
        ? { pull: pullMode(flags.string('pull')) as PullMode }
        : {}),
      forceRecreate: flags.bool('force-recreate'),
      noRecreate: flags.bool('no-recreate'),
      noStart: flags.bool('no-start'),
      removeOrphans: flags.bool('remove-orphans'),
      scale: scales(flags.list('scale')),
      ...(timeout !== undefined ? { timeout } : {}),
      wait: flags.bool('wait'),
      ...(flags.number('wait-timeout') !== undefined
        ? { waitTimeout: flags.number('wait-timeout') as number }
        : {}),
    });
    s.progress.done();
    if (detach || flags.bool('no-start')) return 0;
    const shown =
      args.length > 0 && !flags.bool('attach-dependencies')
        ? args
        : targetServices(p, args, flags.bool('no-deps'));
    const list = shown.flatMap((n) => byService.get(n) ?? []);
    return attach(ctx, list, {
      abortOnExit: flags.bool('abort-on-container-exit') || exitFrom !== undefined,
      ...(exitFrom !== undefined ? { exitCodeFrom: exitFrom } : {}),
      ...(timeout !== undefined ? { timeout } : {}),
      color: !flags.bool('no-color') && isTTY(ctx.stdout),
    });
  },
};

const down_: Subcommand = {
  usage: '[OPTIONS] [SERVICES]',
  description: 'Stop and remove containers, networks',
  flags: [
    {
      long: 'volumes',
      short: 'v',
      kind: 'bool',
      description:
        'Remove named volumes declared in the "volumes" section of the Compose file and anonymous volumes attached to containers',
    },
    {
      long: 'remove-orphans',
      kind: 'bool',
      description: 'Remove containers for services not defined in the Compose file',
    },
    {
      long: 'rmi',
      kind: 'string',
      description:
        'Remove images used by services. "local" remove only images that don\'t have a custom tag ("local"|"all")',
    },
    TIMEOUT,
  ],
  async run(ctx, { flags, args }) {
    const rmi = flags.string('rmi');
    if (rmi !== undefined && rmi !== 'local' && rmi !== 'all')
      throw new ComposeError(`invalid value for --rmi: ${rmi}`);
    const p = projectOrName(ctx);
    const s = session(ctx);
    await down(s, p, {
      services: args,
      volumes: flags.bool('volumes'),
      removeOrphans: flags.bool('remove-orphans'),
      ...(rmi ? { rmi } : {}),
      ...(flags.number('timeout') !== undefined
        ? { timeout: flags.number('timeout') as number }
        : {}),
    });
    s.progress.done();
    return 0;
  },
};

const config_: Subcommand = {
  usage: '[OPTIONS] [SERVICE...]',
  description: 'Parse, resolve and render compose file in canonical format',
  flags: [
    {
      long: 'quiet',
      short: 'q',
      kind: 'bool',
      description: "Only validate the configuration, don't print anything",
    },
    { long: 'services', kind: 'bool', description: 'Print the service names, one per line' },
    { long: 'volumes', kind: 'bool', description: 'Print the volume names, one per line' },
    { long: 'networks', kind: 'bool', description: 'Print the network names, one per line' },
    { long: 'profiles', kind: 'bool', description: 'Print the profile names, one per line' },
    { long: 'images', kind: 'bool', description: 'Print the image names, one per line' },
    { long: 'hash', kind: 'string', description: 'Print the service config hash, one per line' },
    { long: 'format', kind: 'string', description: 'Format the output. Values: [yaml | json]' },
    { long: 'output', short: 'o', kind: 'string', description: 'Save to file' },
    { long: 'no-consistency', kind: 'bool', description: "Don't check model consistency" },
    { long: 'no-interpolate', kind: 'bool', hidden: true },
    { long: 'resolve-image-digests', kind: 'bool', hidden: true },
  ],
  async run(ctx, { flags, args }) {
    for (const unsupported of ['no-interpolate', 'resolve-image-digests'])
      if (flags.bool(unsupported))
        throw new ComposeError(`--${unsupported} is not supported by berth compose`);
    const p = project(ctx, args, { skipChecks: flags.bool('no-consistency') });
    if (args.length > 0) {
      const keep = new Set(targetServices(p, args));
      for (const k of Object.keys(p.services)) if (!keep.has(k)) delete p.services[k];
    }
    if (flags.bool('quiet')) return 0;
    const lines = (xs: string[]): number => {
      for (const x of xs) ctx.stdout.write(`${x}\n`);
      return 0;
    };
    if (flags.bool('services')) return lines(Object.keys(p.services));
    if (flags.bool('volumes')) return lines(Object.keys(p.volumes));
    if (flags.bool('networks')) return lines(Object.keys(p.networks));
    if (flags.bool('profiles'))
      return lines(
        [
          ...new Set(
            Object.values({ ...p.services, ...p.disabledServices }).flatMap(
              (s) => s.profiles ?? [],
            ),
          ),
        ].sort(),
      );
    if (flags.bool('images'))
      return lines(Object.entries(p.services).map(([n, s]) => imageName(p.name, n, s)));
    const hash = flags.string('hash');
    if (hash !== undefined) {
      const names = hash === '*' ? Object.keys(p.services) : hash.split(',');
      return lines(
        names.map((n) => {
          const svc = p.services[n];
          if (!svc) throw new ComposeError(`no such service: ${n}`);
          return `${n} ${serviceHash(svc)}`;
        }),
      );
    }
    const format = flags.string('format') ?? 'yaml';
    if (format !== 'yaml' && format !== 'json')
      throw new ComposeError(`unsupported format "${format}"`);
    const text = renderConfig(p, format);
    const output = flags.string('output');
    if (output) {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(output, text);
    } else ctx.stdout.write(text);
    return 0;
  },
};

function psRow(c: ContainerSummary): Record<string, unknown> {
  return {
    ID: shortId(c.Id),
    Name: nameOf(c),
    Names: nameOf(c),
    Image: c.Image,
    Command: JSON.stringify(c.Command.length > 20 ? `${c.Command.slice(0, 19)}…` : c.Command),
    Project: c.Labels?.[LABEL.project] ?? '',
    Service: c.Labels?.[LABEL.service] ?? '',
    RunningFor: ago(c.Created),
    CreatedAt: new Date(c.Created * 1000).toISOString(),
    State: c.State,
    Status: c.Status,
    Health:
      /\((healthy|unhealthy|health: starting)\)/.exec(c.Status)?.[1]?.replace('health: ', '') ?? '',
    ExitCode: Number(/Exited \((\d+)\)/.exec(c.Status)?.[1] ?? 0),
    Publishers: c.Ports ?? [],
    Ports: formatPorts(c.Ports),
    Labels: Object.entries(c.Labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
  };
}

const PS_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID',
  Name: 'NAME',
  Names: 'NAMES',
  Image: 'IMAGE',
  Command: 'COMMAND',
  Project: 'PROJECT',
  Service: 'SERVICE',
  RunningFor: 'CREATED',
  CreatedAt: 'CREATED AT',
  State: 'STATE',
  Status: 'STATUS',
  Health: 'HEALTH',
  ExitCode: 'EXIT CODE',
  Ports: 'PORTS',
};

const ps_: Subcommand = {
  usage: '[OPTIONS] [SERVICE...]',
  description: 'List containers',
  flags: [
    {
      long: 'all',
      short: 'a',
      kind: 'bool',
      description: 'Show all stopped containers (including those created by the run command)',
    },
    { long: 'quiet', short: 'q', kind: 'bool', description: 'Only display IDs' },
    { long: 'services', kind: 'bool', description: 'Display services' },
    {
      long: 'format',
      kind: 'string',
      description: 'Format output using a custom template: table, json, or a Go template',
    },
    { long: 'status', kind: 'list', description: 'Filter services by status' },
    {
      long: 'filter',
      kind: 'list',
      description: 'Filter services by a property (supported filters: status)',
    },
    { long: 'no-trunc', kind: 'bool', description: "Don't truncate output" },
    { long: 'orphans', kind: 'bool', hidden: true },
  ],
  async run(ctx, { flags, args }) {
    const p = projectOrName(ctx);
    const status = [
      ...flags.list('status'),
      ...flags
        .list('filter')
        .filter((f) => f.startsWith('status='))
        .map((f) => f.slice(7)),
    ];
    let list = await projectContainers(ctx.client(), p.name, { services: args, all: true });
    for (const a of args)
      if (Object.keys(p.services).length > 0 && !(a in p.services))
        throw new ComposeError(`no such service: ${a}`);
    if (!flags.bool('all')) list = list.filter((c) => c.Labels?.[LABEL.oneoff] !== 'True');
    if (status.length === 0 && !flags.bool('all'))
      list = list.filter(
        (c) => c.State === 'running' || c.State === 'restarting' || c.State === 'paused',
      );
    if (status.length > 0) list = list.filter((c) => status.includes(c.State));
    if (flags.bool('services')) {
      for (const s of [...new Set(list.map((c) => c.Labels?.[LABEL.service] ?? ''))])
        ctx.stdout.write(`${s}\n`);
      return 0;
    }
    if (flags.bool('quiet')) {
      for (const c of list) ctx.stdout.write(`${flags.bool('no-trunc') ? c.Id : shortId(c.Id)}\n`);
      return 0;
    }
    const rows = list.map(psRow);
    const format = flags.string('format') ?? 'table';
    if (format === 'json') {
      for (const r of rows) ctx.stdout.write(`${JSON.stringify(r)}\n`);
      return 0;
    }
    const tmpl =
      format === 'table'
        ? 'table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}'
        : format;
    ctx.stdout.write(renderRows(tmpl, rows, PS_HEADERS));
    return 0;
  },
};

const logs_: Subcommand = {
  usage: '[OPTIONS] [SERVICE...]',
  description: 'View output from containers',
  flags: [
    { long: 'follow', short: 'f', kind: 'bool', description: 'Follow log output' },
    {
      long: 'tail',
      short: 'n',
      kind: 'string',
      description: 'Number of lines to show from the end of the logs for each container',
    },
    { long: 'timestamps', short: 't', kind: 'bool', description: 'Show timestamps' },
    {
      long: 'since',
      kind: 'string',
      description:
        'Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)',
    },
    { long: 'until', kind: 'string', description: 'Show logs before a timestamp or relative' },
    { long: 'no-color', kind: 'bool', description: 'Produce monochrome output' },
    { long: 'no-log-prefix', kind: 'bool', description: "Don't print prefix in logs" },
    {
      long: 'index',
      kind: 'number',
      description: 'index of the container if service has multiple replicas',
    },
  ],
  async run(ctx, { flags, args }) {
    const p = projectOrName(ctx);
    const { toTimestamp } = await import('../../cli/commands/logs.js');
    let list = await projectContainers(ctx.client(), p.name, { services: args, all: true });
    const index = flags.number('index');
    if (index !== undefined) list = list.filter((c) => c.Labels?.[LABEL.number] === String(index));
    const printer = newLogPrinter(ctx.stdout, list, {
      color: !flags.bool('no-color') && isTTY(ctx.stdout),
      prefix: !flags.bool('no-log-prefix'),
    });
    await Promise.all(
      list.map((c) =>
        pumpLogs(ctx.client(), c, printer, {
          follow: flags.bool('follow') || undefined,
          tail: flags.string('tail') ?? 'all',
          timestamps: flags.bool('timestamps') || undefined,
          since: toTimestamp(flags.string('since')),
          until: toTimestamp(flags.string('until')),
        }),
      ),
    );
    return 0;
  },
};

/** A command that applies one API call to each container of the named services. */
function each(
  description: string,
  verb: { working: string; done: string },
  flags: FlagSpec[],
  act: (ctx: ComposeContext, c: ContainerSummary, parsed: Parsed) => Promise<void>,
  select: (c: ContainerSummary) => boolean = () => true,
  reverse = false,
): Subcommand {
  return {
    usage: '[OPTIONS] [SERVICE...]',
    description,
    flags,
    async run(ctx, parsed) {
      const p = projectOrName(ctx);
      let list = (await containersOf(ctx, p, parsed.args, true)).filter(select);
      if (Object.keys(p.services).length > 0) {
        const order = targetServices(p, undefined);
        const rank = (c: ContainerSummary): number =>
          order.indexOf(c.Labels?.[LABEL.service] ?? '');
        list = list.sort((a, b) => (reverse ? rank(b) - rank(a) : rank(a) - rank(b)));
      }
      const s = session(ctx);
      for (const c of list) {
        s.progress.event('Container', nameOf(c), verb.working);
        await act(ctx, c, parsed);
        s.progress.event('Container', nameOf(c), verb.done);
      }
      s.progress.done();
      return 0;
    },
  };
}

const running = (c: ContainerSummary): boolean => c.State === 'running' || c.State === 'restarting';
const timeoutOf = (p: Parsed): { timeout?: number } =>
  p.flags.number('timeout') !== undefined ? { timeout: p.flags.number('timeout') as number } : {};

const start_ = each(
  'Start services',
  { working: 'Starting', done: 'Started' },
  [],
  (ctx, c) => ctx.client().containerStart(c.Id),
  (c) => !running(c),
);
const stop_ = each(
  'Stop services',
  { working: 'Stopping', done: 'Stopped' },
  [TIMEOUT],
  (ctx, c, p) => ctx.client().containerStop(c.Id, timeoutOf(p)),
  running,
  true,
);
const restart_ = each(
  'Restart service containers',
  { working: 'Restarting', done: 'Started' },
  [TIMEOUT, { long: 'no-deps', kind: 'bool', description: "Don't restart dependent services" }],
  async (ctx, c, p) => {
    await ctx
      .client()
      .json('POST', `/containers/${c.Id}/restart`, { query: { t: p.flags.number('timeout') } });
  },
);
const kill_ = each(
  'Force stop service containers',
  { working: 'Killing', done: 'Killed' },
  [
    { long: 'signal', short: 's', kind: 'string', description: 'SIGNAL to send to the container' },
    {
      long: 'remove-orphans',
      kind: 'bool',
      description: 'Remove containers for services not defined in the Compose file',
    },
  ],
  (ctx, c, p) => ctx.client().containerKill(c.Id, p.flags.string('signal') ?? 'SIGKILL'),
  running,
);
const pause_ = each(
  'Pause services',
  { working: 'Pausing', done: 'Paused' },
  [],
  async (ctx, c) => {
    await ctx.client().json('POST', `/containers/${c.Id}/pause`);
  },
  (c) => c.State === 'running',
);
const unpause_ = each(
  'Unpause services',
  { working: 'Unpausing', done: 'Unpaused' },
  [],
  async (ctx, c) => {
    await ctx.client().json('POST', `/containers/${c.Id}/unpause`);
  },
  (c) => c.State === 'paused',
);

const rm_: Subcommand = {
  usage: '[OPTIONS] [SERVICE...]',
  description: 'Removes stopped service containers',
  flags: [
    { long: 'force', short: 'f', kind: 'bool', description: "Don't ask to confirm removal" },
    {
      long: 'stop',
      short: 's',
      kind: 'bool',
      description: 'Stop the containers, if required, before removing',
    },
    {
      long: 'volumes',
      short: 'v',
      kind: 'bool',
      description: 'Remove any anonymous volumes attached to containers',
    },
  ],
  async run(ctx, { flags, args }) {
    const p = projectOrName(ctx);
    const s = session(ctx);
    let list = await containersOf(ctx, p, args, true);
    if (flags.bool('stop'))
      for (const c of list.filter(running)) {
        s.progress.event('Container', nameOf(c), 'Stopping');
        await ctx.client().containerStop(c.Id);
        s.progress.event('Container', nameOf(c), 'Stopped');
      }
    if (flags.bool('stop')) list = await containersOf(ctx, p, args, true);
    list = list.filter((c) => !running(c));
    if (list.length === 0) {
      ctx.stderr.write('No stopped containers\n');
      return 0;
    }
    if (!flags.bool('force')) {
      ctx.stderr.write(`Going to remove ${list.map(nameOf).join(', ')}\n`);
      const stdin = ctx.stdin as NodeJS.ReadStream;
      if (!stdin.isTTY)
        throw new ComposeError('not a TTY: use --force to remove without confirmation');
      ctx.stderr.write('Are you sure? [yN] ');
      const answer = await new Promise<string>((r) =>
        stdin.once('data', (b: Buffer) => r(b.toString().trim())),
      );
      if (!/^y(es)?$/i.test(answer)) return 0;
    }
    for (const c of list) {
      s.progress.event('Container', nameOf(c), 'Removing');
      await ctx.client().containerRemove(c.Id, { volumes: flags.bool('volumes') });
      s.progress.event('Container', nameOf(c), 'Removed');
    }
    s.progress.done();
    return 0;
  },
};

const create_: Subcommand = {
  usage: '[OPTIONS] [SERVICE...]',
  description: 'Creates containers for a service',
  flags: [
    { long: 'build', kind: 'bool', description: 'Build images before starting containers' },
    { long: 'no-build', kind: 'bool', description: "Don't build an image, even if it's policy" },
    {
      long: 'force-recreate',
      kind: 'bool',
      description: "Recreate containers even if their configuration and image haven't changed",
    },
    {
      long: 'no-recreate',
      kind: 'bool',
      description: "If containers already exist, don't recreate them",
    },
    {
      long: 'pull',
      kind: 'string',
      description: 'Pull image before running ("always"|"missing"|"never"|"build")',
    },
    {
      long: 'remove-orphans',
      kind: 'bool',
      description: 'Remove containers for services not defined in the Compose file',
    },
    { long: 'scale', kind: 'list', description: 'Scale SERVICE to NUM instances' },
  ],
  async run(ctx, { flags, args }) {
    const p = project(ctx, args);
    const s = session(ctx);
    await up(s, p, {
      services: args,
      noStart: true,
      build: flags.bool('build'),
      noBuild: flags.bool('no-build'),
      forceRecreate: flags.bool('force-recreate'),
      noRecreate: flags.bool('no-recreate'),
      removeOrphans: flags.bool('remove-orphans'),
      scale: scales(flags.list('scale')),
      ...(pullMode(flags.string('pull'))
        ? { pull: pullMode(flags.string('pull')) as PullMode }
        : {}),
    });
    s.progress.done();
    return 0;
  },
};

const build_: Subcommand = {
  usage: '[OPTIONS] [SERVICE...]',
  description: 'Build or rebuild services',
  flags: [
    { long: 'no-cache', kind: 'bool', description: 'Do not use cache when building the image' },
    {
      long: 'pull',
      kind: 'bool',
      description: 'Always attempt to pull a newer version of the image',
    },
    { long: 'quiet', short: 'q', kind: 'bool', description: "Don't print anything to STDOUT" },
    { long: 'build-arg', kind: 'list', description: 'Set build-time variables for services' },
  ],
  async run(ctx, { flags, args }) {
    const p = project(ctx, args);
    const s = session(ctx);
    const extra: Record<string, string> = {};
    for (const a of flags.list('build-arg')) {
      const i = a.indexOf('=');
      if (i < 0) {
        const v = ctx.env[a];
        if (v !== undefined) extra[a] = v;
      } else extra[a.slice(0, i)] = a.slice(i + 1);
    }
    for (const name of args.length > 0 ? args : Object.keys(p.services)) {
      const svc = p.services[name];
      if (!svc) throw new ComposeError(`no such service: ${name}`);
      if (!svc.build) continue;
      const image = imageName(p.name, name, svc);
      s.progress.event('Image', image, 'Building');
      await buildImage(
        ctx.client(),
        { ...svc.build, args: { ...(svc.build.args ?? {}), ...extra } },
        image,
        {
          noCache: flags.bool('no-cache'),
          pull: flags.bool('pull'),
          labels: {
            [LABEL.project]: p.name,
            [LABEL.service]: name,
            [LABEL.version]: COMPOSE_VERSION,
          },
          ...(flags.bool('quiet') ? {} : { onLine: (l: string) => ctx.stderr.write(l) }),
        },
      );
      s.progress.event('Image', image, 'Built');
    }
    s.progress.done();
    return 0;
  },
};

const pull_: Subcommand = {
  usage: '[OPTIONS] [SERVICE...]',
  description: 'Pull service images',
  flags: [
    {
      long: 'quiet',
      short: 'q',
      kind: 'bool',
      description: 'Pull without printing progress information',
    },
    {
      long: 'ignore-pull-failures',
      kind: 'bool',
      description: 'Pull what it can and ignores images with pull failures',
    },
    { long: 'ignore-buildable', kind: 'bool', description: 'Ignore images that can be built' },
    {
      long: 'include-deps',
      kind: 'bool',
      description: 'Also pull services declared as dependencies',
    },
  ],
  async run(ctx, { flags, args }) {
    const p = project(ctx, args);
    const s = session(ctx);
    const names = flags.bool('include-deps')
      ? targetServices(p, args)
      : args.length > 0
        ? args
        : Object.keys(p.services);
    let failed = false;
    for (const name of names) {
      const svc = p.services[name];
      if (!svc) throw new ComposeError(`no such service: ${name}`);
      if (!svc.image || (svc.build && flags.bool('ignore-buildable'))) continue;
      s.progress.event('Image', svc.image, 'Pulling');
      try {
        await pullImage(
          ctx.client(),
          svc.image,
          typeof svc.platform === 'string' ? svc.platform : undefined,
        );
        s.progress.event('Image', svc.image, 'Pulled');
      } catch (err: unknown) {
        s.progress.event('Image', svc.image, 'Error', 'error');
        if (!flags.bool('ignore-pull-failures') && !svc.build) throw err;
        ctx.stderr.write(`${(err as Error).message}\n`);
        failed = true;
      }
    }
    s.progress.done();
    return failed && !flags.bool('ignore-pull-failures') ? 1 : 0;
  },
};

const push_: Subcommand = {
  usage: '[OPTIONS] [SERVICE...]',
  description: 'Push service images',
  flags: [
    {
      long: 'ignore-push-failures',
      kind: 'bool',
      description: 'Push what it can and ignores images with push failures',
    },
    {
      long: 'quiet',
      short: 'q',
      kind: 'bool',
      description: 'Push without printing progress information',
    },
  ],
  async run(ctx, { flags, args }) {
    const p = project(ctx, args);
    const s = session(ctx);
    for (const name of args.length > 0 ? args : Object.keys(p.services)) {
      const svc = p.services[name];
      if (!svc?.image) continue;
      const { repo, tag } = splitRef(svc.image);
      s.progress.event('Image', svc.image, 'Pushing');
      try {
        const res = await ctx.client().stream('POST', `/images/${repo}/push`, {
          query: { tag },
          headers: { 'X-Registry-Auth': Buffer.from('{}').toString('base64') },
        });
        const { jsonLines } = await import('../../client/streams.js');
        for await (const m of jsonLines<{ error?: string }>(res))
          if (m.error) throw new ComposeError(m.error);
        s.progress.event('Image', svc.image, 'Pushed');
      } catch (err: unknown) {
        s.progress.event('Image', svc.image, 'Error', 'error');
        if (!flags.bool('ignore-push-failures')) throw err;
      }
    }
    s.progress.done();
    return 0;
  },
};

async function serviceContainer(
  ctx: ComposeContext,
  p: Project,
  service: string,
  index = 1,
): Promise<ContainerSummary> {
  if (!(service in p.services)) throw new ComposeError(`no such service: ${service}`);
  const list = await projectContainers(ctx.client(), p.name, {
    services: [service],
    oneoff: false,
    all: true,
  });
  const c = list.find((x) => x.Labels?.[LABEL.number] === String(index));
  if (!c || !running(c)) throw new ComposeError(`service "${service}" is not running`);
  return c;
}

const exec_: Subcommand = {
  usage: '[OPTIONS] SERVICE COMMAND [ARGS...]',
  description: 'Execute a command in a running container',
  interspersed: false,
  flags: [
    {
      long: 'detach',
      short: 'd',
      kind: 'bool',
      description: 'Detached mode: Run command in the background',
    },
    { long: 'env', short: 'e', kind: 'list', description: 'Set environment variables' },
    {
      long: 'index',
      kind: 'number',
      description: 'Index of the container if service has multiple replicas',
    },
    {
      long: 'no-TTY',
      short: 'T',
      kind: 'bool',
      description:
        'Disable pseudo-TTY allocation. By default `docker compose exec` allocates a TTY',
    },
    { long: 'privileged', kind: 'bool', description: 'Give extended privileges to the process' },
    { long: 'user', short: 'u', kind: 'string', description: 'Run the command as this user' },
    {
      long: 'workdir',
      short: 'w',
      kind: 'string',
      description: 'Path to workdir directory for this command',
    },
    { long: 'interactive', short: 'i', kind: 'bool', hidden: true },
    { long: 'tty', short: 't', kind: 'bool', hidden: true },
  ],
  async run(ctx, { flags, args }) {
    const [service, ...cmd] = args;
    if (!service || cmd.length === 0)
      throw new ComposeError('"exec" requires at least 2 arguments');
    const p = project(ctx);
    const c = await serviceContainer(ctx, p, service, flags.number('index') ?? 1);
    const tty = !flags.bool('no-TTY') && (ctx.stdin as NodeJS.ReadStream).isTTY === true;
    const argv = [
      ...(flags.bool('detach') ? ['-d'] : ['-i']),
      ...(tty ? ['-t'] : []),
      ...flags.list('env').flatMap((e) => ['-e', e]),
      ...(flags.string('user') ? ['-u', flags.string('user') as string] : []),
      ...(flags.string('workdir') ? ['-w', flags.string('workdir') as string] : []),
      ...(flags.bool('privileged') ? ['--privileged'] : []),
      c.Id,
      ...cmd,
    ];
    const { command } = await import('../../cli/commands/exec.js');
    return command.run(ctx, parseArgs(argv, command.flags, { interspersed: false }));
  },
};

const run_: Subcommand = {
  usage: '[OPTIONS] SERVICE [COMMAND] [ARGS...]',
  description: 'Run a one-off command on a service',
  interspersed: false,
  flags: [
    {
      long: 'detach',
      short: 'd',
      kind: 'bool',
      description: 'Run container in background and print container ID',
    },
    { long: 'rm', kind: 'bool', description: 'Automatically remove the container when it exits' },
    { long: 'env', short: 'e', kind: 'list', description: 'Set environment variables' },
    { long: 'label', short: 'l', kind: 'list', description: 'Add or override a label' },
    { long: 'name', kind: 'string', description: 'Assign a name to the container' },
    { long: 'no-deps', kind: 'bool', description: "Don't start linked services" },
    {
      long: 'service-ports',
      short: 'P',
      kind: 'bool',
      description: "Run command with all service's ports enabled and mapped to the host",
    },
    {
      long: 'publish',
      short: 'p',
      kind: 'list',
      description: "Publish a container's port(s) to the host",
    },
    {
      long: 'no-TTY',
      short: 'T',
      kind: 'bool',
      description: 'Disable pseudo-TTY allocation (default: auto-detected)',
    },
    { long: 'interactive', short: 'i', kind: 'bool', hidden: true },
    { long: 'tty', short: 't', kind: 'bool', hidden: true },
    { long: 'user', short: 'u', kind: 'string', description: 'Run as specified username or uid' },
    {
      long: 'workdir',
      short: 'w',
      kind: 'string',
      description: 'Working directory inside the container',
    },
    { long: 'entrypoint', kind: 'string', description: 'Override the entrypoint of the image' },
    { long: 'volume', short: 'v', kind: 'list', description: 'Bind mount a volume' },
    { long: 'build', kind: 'bool', description: 'Build image before starting container' },
    {
      long: 'pull',
      kind: 'string',
      description: 'Pull image before running ("always"|"missing"|"never")',
    },
    {
      long: 'remove-orphans',
      kind: 'bool',
      description: 'Remove containers for services not defined in the Compose file',
    },
    { long: 'quiet-pull', kind: 'bool', description: 'Pull without printing progress information' },
  ],
  async run(ctx, { flags, args }) {
    const [service, ...cmd] = args;
    if (!service) throw new ComposeError('"run" requires at least 1 argument');
    const p = project(ctx, [service]);
    if (!(service in p.services)) throw new ComposeError(`no such service: ${service}`);
    const s = session(ctx);
    if (!flags.bool('no-deps')) {
      const deps = targetServices(p, [service]).filter((n) => n !== service);
      if (deps.length > 0)
        await up(s, p, { services: deps, ...(flags.bool('build') ? { build: true } : {}) });
    }
    await ensureNetworks(s, p, [service]);
    await ensureVolumes(s, p, [service]);
    await ensureImages(s, p, [service], {
      build: flags.bool('build'),
      ...(pullMode(flags.string('pull'))
        ? { pull: pullMode(flags.string('pull')) as PullMode }
        : {}),
    });
    const svc: Service = { ...(p.services[service] as Service) };
    if (cmd.length > 0) svc.command = cmd;
    if (flags.string('entrypoint') !== undefined) {
      const { shellSplit } = await import('../normalize.js');
      svc.entrypoint = shellSplit(flags.string('entrypoint') as string);
    }
    if (!flags.bool('service-ports')) delete svc.ports;
    if (flags.list('publish').length > 0) {
      const { parsePortSpec } = await import('../normalize.js');
      svc.ports = flags.list('publish').flatMap((x) => parsePortSpec(x));
    }
    const env = { ...(svc.environment ?? {}) };
    for (const e of flags.list('env')) {
      const i = e.indexOf('=');
      if (i < 0) env[e] = ctx.env[e] ?? null;
      else env[e.slice(0, i)] = e.slice(i + 1);
    }
    svc.environment = env;
    const labels = { ...(svc.labels ?? {}) };
    for (const l of flags.list('label')) {
      const i = l.indexOf('=');
      labels[i < 0 ? l : l.slice(0, i)] = i < 0 ? '' : l.slice(i + 1);
    }
    svc.labels = labels;
    if (flags.string('user')) svc.user = flags.string('user');
    if (flags.string('workdir')) svc.working_dir = flags.string('workdir');
    if (flags.list('volume').length > 0) {
      const { parseVolumeSpec } = await import('../normalize.js');
      svc.volumes = [
        ...(svc.volumes ?? []),
        ...flags.list('volume').map((v) => parseVolumeSpec(v, ctx.cwd)),
      ];
    }
    delete svc.container_name;
    const detach = flags.bool('detach');
    const tty = !flags.bool('no-TTY') && !detach && (ctx.stdin as NodeJS.ReadStream).isTTY === true;
    svc.tty = tty;
    svc.stdin_open = !detach;
    if (svc.restart !== undefined) delete svc.restart;
    const runProject: Project = { ...p, services: { ...p.services, [service]: svc } };
    const existing = new Map<string, ContainerSummary[]>();
    for (const c of await projectContainers(ctx.client(), p.name, { oneoff: false })) {
      const k = c.Labels?.[LABEL.service] ?? '';
      existing.set(k, [...(existing.get(k) ?? []), c]);
    }
    const plan = containerCreatePlan(runProject, service, {
      number: 1,
      hash: serviceHash(svc),
      oneoff: true,
      name: flags.string('name') ?? oneoffName(p.name, service),
      containerOf: (x) => existing.get(x)?.[0]?.Id,
    });
    if (flags.bool('rm') && !detach)
      (plan.body.HostConfig as Record<string, unknown>).AutoRemove = false;
    Object.assign(plan.body, {
      AttachStdin: !detach,
      AttachStdout: !detach,
      AttachStderr: !detach,
      StdinOnce: !detach,
    });
    s.progress.done();
    const id = await createFromPlan(s, runProject, service, plan);
    if (detach) {
      await ctx.client().containerStart(id);
      ctx.stdout.write(`${plan.name}\n`);
      return 0;
    }
    const { command } = await import('../../cli/commands/start.js');
    let code: number;
    try {
      code = await command.run(ctx, parseArgs(['-a', '-i', id], command.flags));
      const info = (await ctx.client().containerInspect(id)) as { State: { ExitCode: number } };
      code = info.State.ExitCode;
    } finally {
      if (flags.bool('rm'))
        await ctx
          .client()
          .containerRemove(id, { force: true })
          .catch(() => undefined);
    }
    return code;
  },
};

const images_: Subcommand = {
  usage: '[OPTIONS] [SERVICE...]',
  description: 'List images used by the created containers',
  flags: [
    { long: 'quiet', short: 'q', kind: 'bool', description: 'Only display IDs' },
    { long: 'format', kind: 'string', description: 'Format the output. Values: [table | json]' },
  ],
  async run(ctx, { flags, args }) {
    const p = projectOrName(ctx);
    const list = await projectContainers(ctx.client(), p.name, { services: args, all: true });
    const { humanSize } = await import('../../cli/human.js');
    const rows: Record<string, unknown>[] = [];
    for (const c of list) {
      const img = (await ctx.client().imageInspect(c.ImageID)) as {
        Id: string;
        Size: number;
        Created: string;
        RepoTags?: string[];
      };
      const tag = img.RepoTags?.[0] ?? '<none>:<none>';
      const { repo, tag: t } = splitRef(tag);
      rows.push({
        ContainerName: nameOf(c),
        Repository: repo,
        Tag: t,
        ID: img.Id,
        IDShort: shortId(img.Id),
        Created: img.Created,
        Size: humanSize(img.Size),
        SizeBytes: img.Size,
      });
    }
    if (flags.bool('quiet')) {
      for (const id of [...new Set(rows.map((r) => r.IDShort as string))])
        ctx.stdout.write(`${id}\n`);
      return 0;
    }
    if (flags.string('format') === 'json') {
      ctx.stdout.write(`${JSON.stringify(rows)}\n`);
      return 0;
    }
    ctx.stdout.write(
      renderRows(
        'table {{.ContainerName}}\t{{.Repository}}\t{{.Tag}}\t{{.IDShort}}\t{{.Size}}',
        rows,
        {
          ContainerName: 'CONTAINER',
          Repository: 'REPOSITORY',
          Tag: 'TAG',
          IDShort: 'IMAGE ID',
          Size: 'SIZE',
        },
      ),
    );
    return 0;
  },
};

const port_: Subcommand = {
  usage: '[OPTIONS] SERVICE PRIVATE_PORT',
  description: 'Print the public port for a port binding',
  flags: [
    {
      long: 'index',
      kind: 'number',
      description: 'Index of the container if service has multiple replicas',
    },
    { long: 'protocol', kind: 'string', description: 'tcp or udp' },
  ],
  async run(ctx, { flags, args }) {
    const [service, port] = args;
    if (!service || !port) throw new ComposeError('"port" requires exactly 2 arguments');
    const p = project(ctx);
    const c = await serviceContainer(ctx, p, service, flags.number('index') ?? 1);
    const proto = flags.string('protocol') ?? 'tcp';
    const b = (c.Ports ?? []).find(
      (x) => String(x.PrivatePort) === port && x.Type === proto && x.PublicPort,
    );
    if (!b)
      throw new ComposeError(`no port ${port}/${proto} for container ${nameOf(c)}: 0.0.0.0:0`);
    ctx.stdout.write(`${b.IP ?? '0.0.0.0'}:${b.PublicPort}\n`);
    return 0;
  },
};

const top_: Subcommand = {
  usage: '[SERVICES...]',
  description: 'Display the running processes',
  flags: [],
  async run(ctx, { args }) {
    const p = projectOrName(ctx);
    const list = (
      await projectContainers(ctx.client(), p.name, { services: args, all: false })
    ).filter(running);
    const { tabwrite } = await import('../../cli/format.js');
    for (const c of list) {
      const t = await ctx
        .client()
        .json<{ Titles: string[]; Processes: string[][] }>('GET', `/containers/${c.Id}/top`);
      ctx.stdout.write(`${nameOf(c)}\n`);
      ctx.stdout.write(
        tabwrite([t.Titles, ...t.Processes].map((r) => r.join('\t')).join('\n') + '\n'),
      );
      ctx.stdout.write('\n');
    }
    return 0;
  },
};

const ls_: Subcommand = {
  usage: '[OPTIONS]',
  description: 'List running compose projects',
  flags: [
    { long: 'all', short: 'a', kind: 'bool', description: 'Show all stopped Compose projects' },
    { long: 'quiet', short: 'q', kind: 'bool', description: 'Only display project names' },
    { long: 'format', kind: 'string', description: 'Format the output. Values: [table | json]' },
    { long: 'filter', kind: 'list', description: 'Filter output based on conditions provided' },
  ],
  async run(ctx, { flags }) {
    const list = await ctx
      .client()
      .containerList({ all: true, filters: { label: [LABEL.project] } });
    const projects = new Map<string, { states: Map<string, number>; files: Set<string> }>();
    for (const c of list) {
      const name = c.Labels?.[LABEL.project] ?? '';
      const e = projects.get(name) ?? { states: new Map(), files: new Set() };
      e.states.set(c.State, (e.states.get(c.State) ?? 0) + 1);
      const files = c.Labels?.[LABEL.configFiles];
      if (files) e.files.add(files);
      projects.set(name, e);
    }
    const names = flags
      .list('filter')
      .filter((f) => f.startsWith('name='))
      .map((f) => f.slice(5));
    const rows = [...projects.entries()]
      .filter(
        ([n, e]) =>
          (flags.bool('all') || e.states.has('running')) &&
          (names.length === 0 || names.some((x) => n.includes(x))),
      )
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([n, e]) => ({
        Name: n,
        Status: [...e.states.entries()]
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([st, k]) => `${st}(${k})`)
          .join(', '),
        ConfigFiles: [...e.files].join(','),
      }));
    if (flags.bool('quiet')) {
      for (const r of rows) ctx.stdout.write(`${r.Name}\n`);
      return 0;
    }
    if (flags.string('format') === 'json') {
      ctx.stdout.write(`${JSON.stringify(rows)}\n`);
      return 0;
    }
    ctx.stdout.write(
      renderRows('table {{.Name}}\t{{.Status}}\t{{.ConfigFiles}}', rows, {
        Name: 'NAME',
        Status: 'STATUS',
        ConfigFiles: 'CONFIG FILES',
      }),
    );
    return 0;
  },
};

const version_: Subcommand = {
  usage: '[OPTIONS]',
  description: 'Show the Docker Compose version information',
  flags: [
    { long: 'short', kind: 'bool', description: "Shows only Compose's version number" },
    {
      long: 'format',
      short: 'f',
      kind: 'string',
      description: 'Format the output. Values: [pretty | json]',
    },
  ],
  async run(ctx, { flags }) {
    if (flags.bool('short')) ctx.stdout.write(`${COMPOSE_VERSION}\n`);
    else if (flags.string('format') === 'json')
      ctx.stdout.write(`${JSON.stringify({ version: `v${COMPOSE_VERSION}` })}\n`);
    else ctx.stdout.write(`berth compose version v${COMPOSE_VERSION} (berth 0.1.0)\n`);
    return 0;
  },
};

const wait_: Subcommand = {
  usage: 'SERVICE [SERVICE...] [OPTIONS]',
  description: 'Block until the first service container stops',
  flags: [
    {
      long: 'down-project',
      kind: 'bool',
      description: 'Drops project when the first container stops',
    },
  ],
  async run(ctx, { flags, args }) {
    if (args.length === 0) throw new ComposeError('"wait" requires at least 1 argument');
    const p = project(ctx);
    const list = await containersOf(ctx, p, args, true);
    const results = await Promise.all(
      list.map(async (c) => {
        const { result } = await ctx.client().containerWait(c.Id, 'not-running');
        return { c, r: await result };
      }),
    );
    let code = 0;
    for (const { r } of results) code = r.StatusCode;
    if (flags.bool('down-project')) {
      const s = session(ctx);
      await down(s, p);
      s.progress.done();
    }
    return code;
  },
};

const events_: Subcommand = {
  usage: '[OPTIONS] [SERVICE...]',
  description: 'Receive real time events from containers',
  flags: [{ long: 'json', kind: 'bool', description: 'Output events as a stream of json objects' }],
  async run(ctx, { flags, args }) {
    const p = projectOrName(ctx);
    for await (const e of ctx
      .client()
      .events({ filters: { label: [`${LABEL.project}=${p.name}`], type: ['container'] } })) {
      const attrs = e.Actor.Attributes;
      const service = attrs[LABEL.service] ?? '';
      if (args.length > 0 && !args.includes(service)) continue;
      const time = new Date(Math.floor(e.timeNano / 1e6)).toISOString();
      if (flags.bool('json'))
        ctx.stdout.write(
          `${JSON.stringify({ time, type: e.Type, action: e.Action, id: e.Actor.ID, service, attributes: attrs })}\n`,
        );
      else {
        const extra = Object.entries(attrs)
          .filter(([k]) => !k.startsWith('com.docker.compose.'))
          .map(([k, v]) => `${k}=${v}`)
          .join(', ');
        ctx.stdout.write(`${time} ${e.Type} ${e.Action} ${e.Actor.ID} (${extra})\n`);
      }
    }
    return 0;
  },
};

const cp_: Subcommand = {
  usage:
    '[OPTIONS] SERVICE:SRC_PATH DEST_PATH|-\n\tdocker compose cp [OPTIONS] SRC_PATH|- SERVICE:DEST_PATH',
  description: 'Copy files/folders between a service container and the local filesystem',
  flags: [
    {
      long: 'index',
      kind: 'number',
      description: 'Index of the container if service has multiple replicas',
    },
    {
      long: 'archive',
      short: 'a',
      kind: 'bool',
      description: 'Archive mode (copy all uid/gid information)',
    },
    {
      long: 'follow-link',
      short: 'L',
      kind: 'bool',
      description: 'Always follow symbol link in SRC_PATH',
    },
    { long: 'all', kind: 'bool', hidden: true },
  ],
  async run(ctx, { flags, args }) {
    if (args.length !== 2) throw new ComposeError('"cp" requires exactly 2 arguments');
    const p = project(ctx);
    const mapArg = async (a: string): Promise<string> => {
      const i = a.indexOf(':');
      if (i <= 0 || a.startsWith('/') || a.startsWith('.')) return a;
      const c = await serviceContainer(ctx, p, a.slice(0, i), flags.number('index') ?? 1).catch(
        async () => {
          const list = await projectContainers(ctx.client(), p.name, {
            services: [a.slice(0, i)],
            oneoff: false,
            all: true,
          });
          const found = list.find(
            (x) => x.Labels?.[LABEL.number] === String(flags.number('index') ?? 1),
          );
          if (!found) throw new ComposeError(`no container found for service "${a.slice(0, i)}"`);
          return found;
        },
      );
      return `${c.Id}:${a.slice(i + 1)}`;
    };
    const argv = [
      ...(flags.bool('archive') ? ['-a'] : []),
      ...(flags.bool('follow-link') ? ['-L'] : []),
      await mapArg(args[0] as string),
      await mapArg(args[1] as string),
    ];
    const { command } = await import('../../cli/commands/cp.js');
    return command.run(ctx, parseArgs(argv, command.flags));
  },
};

const scale_: Subcommand = {
  usage: '[SERVICE=REPLICAS...]',
  description: 'Scale services',
  flags: [{ long: 'no-deps', kind: 'bool', description: "Don't start linked services" }],
  async run(ctx, { flags, args }) {
    const wanted = scales(args);
    const p = project(ctx, Object.keys(wanted));
    const s = session(ctx);
    await up(s, p, {
      services: Object.keys(wanted),
      scale: wanted,
      noDeps: flags.bool('no-deps'),
      noRecreate: true,
    });
    s.progress.done();
    return 0;
  },
};

/** The subcommands of `berth compose`. */
export const SUBCOMMANDS: Record<string, Subcommand> = {
  build: build_,
  config: config_,
  cp: cp_,
  create: create_,
  down: down_,
  events: events_,
  exec: exec_,
  images: images_,
  kill: kill_,
  logs: logs_,
  ls: ls_,
  pause: pause_,
  port: port_,
  ps: ps_,
  pull: pull_,
  push: push_,
  restart: restart_,
  rm: rm_,
  run: run_,
  scale: scale_,
  start: start_,
  stop: stop_,
  top: top_,
  unpause: unpause_,
  up: up_,
  version: version_,
  wait: wait_,
};

export { ExitError };
