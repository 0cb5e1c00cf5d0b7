import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import posix from 'node:path/posix';
import { Readable } from 'node:stream';
import type { ContainerService } from '../containers/containers.js';
import { InvalidArgumentError, NotFoundError, errnoCode } from '../errors/index.js';
import { toHostIds, type IdMap } from '../idmap/idmap.js';
import type { ImageRecord, ImageService } from '../images/images.js';
import type { HostConfigMount } from '../spec/engine.js';
import type { HistoryEntry, ImageRuntimeConfig } from '../spec/oci-image.js';
import { shortId } from '../util/digest.js';
import type { BuildMessage, BuildRequest, BuildResult, BuildService } from './build.js';
import { BuildStepError } from './build.js';
import {
  cleanSource,
  entriesTar,
  entryOf,
  findSources,
  globMatch,
  copySourceHash,
  hashEntries,
  hashList,
  hostNames,
  fileSum,
  ignorePatterns,
  newIgnore,
  readIgnoreFile,
  resolveInContext,
  treeEntries,
  type CopyEntry,
  type HostNames,
  type Source,
  type SumSource,
  type SumStyle,
  type TarEntry,
} from './context.js';
import { receiveBuildContext, type BuildContext, type IndexedSource } from './context-index.js';
import {
  parseDockerfile,
  parseSecretMount,
  SecretMountError,
  type Dockerfile,
  type Instruction,
  type RunMount,
  type SecretMount,
  type Stage,
} from './dockerfile/instructions.js';
import { DockerfileSyntaxError } from './dockerfile/parser.js';
import { expandWord } from './dockerfile/shell-word.js';
import { withoutMountPoints } from './layer-filter.js';
import { newStageOutput } from './stage-output.js';
import {
  mountRunSecrets,
  newStagedSecrets,
  releaseLeftSecrets,
  secretDir,
  type RunSecrets,
} from './secrets.js';
import {
  applyMeta,
  cacheKey,
  expand,
  nopCreatedByOne,
  runStep,
  workdirOf,
  type StageState,
} from './steps.js';

const defaultPathEnv = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const tmpPrefix = 'build-';

export interface NewBuildServiceOptions {
  images: ImageService;
  containers: ContainerService;
  /** Scratch space for contexts (removed after each build). */
  tmpRoot: string;
  /** Where `RUN --mount=type=cache` directories live between builds. */
  cacheRoot: string;
  /** The daemon's --userns-remap mapping: RUN containers' ids as the host has them. */
  idMap?: IdMap;
}

type CopyIns = Instruction & { kind: 'COPY' | 'ADD' };

/** A built stage: its image (undefined: scratch) and config. */
interface BuiltStage {
  image: ImageRecord | undefined;
  config: ImageRuntimeConfig;
}

interface Run {
  req: BuildRequest;
  ctx: string;
  work: string;
  progress: (m: BuildMessage) => void;
  out: (text: string) => void;
  df: Dockerfile;
  step: number;
  total: number;
  /**
   * The result of stage `index` once built (building it first if nothing had started it); it
   * rejects when that stage fails.
   */
  stageBuilt: (index: number) => Promise<BuiltStage>;
  /** Aborted when another stage of the build failed (or the client went away). */
  signal?: AbortSignal;
  /** Pulls of FROM images begun in this build, by name. */
  pulls: Map<string, Promise<void>>;
  /** The `--cache-from` images found (narrowed to one once a step matched it). */
  cacheFrom: ImageRecord[];
  /** Build args the Dockerfile declared. */
  used: Set<string>;
  /** `SOURCE_DATE_EPOCH` (a build arg): every time in the new layers and configs, at most. */
  epoch?: Date;
  containers: Set<string>;
  /** Removals of step containers going on beside later steps; the build waits for them. */
  removals: Promise<void>[];
  /** The context tar's entries, by cleaned name. */
  entries: Map<string, TarEntry>;
  /** The context: indexed, its files put in `ctx` only once a step needs them. */
  context?: BuildContext;
}

/** The builder over the image and container services; see build.ts for the contract. */
class Builder implements BuildService {
  readonly #images: ImageService;
  readonly #containers: ContainerService;
  readonly #tmp: string;
  readonly #cacheRoot: string;
  readonly #hostIds: ((uid: number, gid: number) => { uid: number; gid: number }) | undefined;
  readonly #staged = newStagedSecrets();
  #running = 0;
  #names: Promise<HostNames> | undefined;

  constructor(o: NewBuildServiceOptions) {
    this.#images = o.images;
    this.#containers = o.containers;
    this.#tmp = o.tmpRoot;
    this.#cacheRoot = o.cacheRoot;
    this.#hostIds = o.idMap ? toHostIds(o.idMap) : undefined;
  }

  async open(): Promise<void> {
    await fs.mkdir(this.#tmp, { recursive: true });
    for (const e of await fs.readdir(this.#tmp)) {
      if (!e.startsWith(tmpPrefix)) continue;
      // A crash mid-RUN leaves that RUN's secret tmpfs mounted: gone first, then the rest.
      await releaseLeftSecrets(path.join(this.#tmp, e));
      await fs.rm(path.join(this.#tmp, e), { recursive: true, force: true });
    }
  }

  async build(
    context: Readable,
    req: BuildRequest,
    progress: (m: BuildMessage) => void,
  ): Promise<BuildResult> {
    const work = path.join(this.#tmp, `${tmpPrefix}${randomBytes(8).toString('hex')}`);
    const ctx = path.join(work, 'context');
    await fs.mkdir(ctx, { recursive: true });
    const run: Run = {
      req,
      ctx,
      work,
      progress,
      out: (text) => {
        if (!req.quiet) progress({ stream: text });
      },
      df: { directives: {}, escape: '\\', metaArgs: [], stages: [], total: 0 },
      step: 0,
      total: 0,
      stageBuilt: () => Promise.reject(new InvalidArgumentError('no stage is being built')),
      pulls: new Map(),
      cacheFrom: [],
      used: new Set(),
      containers: new Set(),
      removals: [],
      entries: new Map(),
    };
    this.#running++;
    try {
      const dockerfileName = req.dockerfile || 'Dockerfile';
      let wanted: string[] = [];
      try {
        const r = cleanSource(dockerfileName);
        wanted = [r, `${r}.dockerignore`, '.dockerignore'];
      } catch (err: unknown) {
        // Refused below, once the body is known to be a tar (a bare Dockerfile needs no name).
        if (!(err instanceof InvalidArgumentError)) throw err;
      }
      const got = await receiveBuildContext(context, {
        dir: ctx,
        spool: path.join(work, 'context.tar'),
        entries: run.entries,
        wanted,
      });
      let text = got.dockerfile;
      if (text === undefined) {
        const rel = cleanSource(dockerfileName);
        const index = got.context.index;
        run.context = got.context;
        if (index) {
          const data = index.file(rel);
          if (data === 'missing') {
            throw new InvalidArgumentError(`Cannot locate specified Dockerfile: ${dockerfileName}`);
          }
          text = data.toString('utf8');
          let ignore: string[] = [];
          for (const name of [`${rel}.dockerignore`, '.dockerignore']) {
            const f = index.file(name);
            if (f === 'missing') continue;
            ignore = ignorePatterns(f.toString('utf8'));
            break;
          }
          await got.context.applyIgnore(newIgnore(ignore));
        } else {
          try {
            text = await fs.readFile(path.join(ctx, rel), 'utf8');
          } catch (err: unknown) {
            if (
              errnoCode(err) === 'ENOENT' ||
              errnoCode(err) === 'EISDIR' ||
              errnoCode(err) === 'ENOTDIR'
            ) {
              throw new InvalidArgumentError(
                `Cannot locate specified Dockerfile: ${dockerfileName}`,
                { cause: err },
              );
            }
            throw err;
          }
          await got.context.applyIgnore(newIgnore(await readIgnoreFile(ctx, rel)));
        }
      }
      try {
        run.df = parseDockerfile(text);
      } catch (err: unknown) {
        if (err instanceof DockerfileSyntaxError) {
          throw new InvalidArgumentError(err.message, { cause: err });
        }
        throw err;
      }
      const epoch = req.buildArgs.SOURCE_DATE_EPOCH;
      if (epoch !== undefined && epoch !== null) {
        if (!/^\d+$/.test(epoch)) {
          throw new InvalidArgumentError(`invalid SOURCE_DATE_EPOCH: ${epoch}`);
        }
        run.epoch = new Date(Number(epoch) * 1000);
      }
      return await this.#run(run);
    } finally {
      this.#running--;
      await Promise.all(run.removals);
      for (const id of run.containers) await this.#removeContainer(id);
      await releaseLeftSecrets(work);
      await fs.rm(work, { recursive: true, force: true });
    }
  }

  async #run(run: Run): Promise<BuildResult> {
    const { df, req } = run;
    const target = this.#targetStage(df, req.target);
    const needed = this.#neededStages(df, target);
    const labels = Object.keys(req.labels).sort();
    run.total =
      df.metaArgs.length +
      df.stages
        .filter((s) => s.index <= target.index)
        .reduce((n, s) => n + 1 + s.instructions.length, 0) +
      labels.length;
    // As dockerd: a --cache-from name that is not here is passed over.
    for (const ref of req.cacheFrom) {
      try {
        run.cacheFrom.push(await this.#images.get(ref));
      } catch (err: unknown) {
        if (!(err instanceof NotFoundError)) throw err;
      }
    }
    const meta: StageState = this.#freshState({}, req, df.escape);
    for (const a of df.metaArgs) {
      this.#stepLine(run, a.original);
      applyMeta(meta, a);
      for (const x of a.args) run.used.add(x.name);
    }
    // Stages the target needs are built at once, each waiting for a stage it uses only where
    // it uses it (FROM, COPY --from, RUN --mount from=); output is put back in stage order
    // (see stage-output.ts for why it is held rather than interleaved).
    const built = df.stages.filter((s) => s.index <= target.index);
    const firstStep = new Map<number, number>();
    let next = run.step;
    for (const s of built) {
      // A stage the target does not need is not built; its steps keep their numbers, as in
      // dockerd.
      firstStep.set(s.index, next);
      next += 1 + s.instructions.length;
    }
    const output = newStageOutput(
      built.map((s) => s.index),
      (t) => run.out(t),
    );
    for (const s of built) if (!needed.has(s.index)) output.finish(s.index);
    const cancel = new AbortController();
    const onClientGone = (): void => cancel.abort(req.signal?.reason);
    req.signal?.addEventListener('abort', onClientGone, { once: true });
    if (req.signal?.aborted) onClientGone();
    const tasks = new Map<number, Promise<BuiltStage>>();
    let failure: { err: unknown } | undefined;
    const concurrent = needed.size > 1;
    const start = (stage: Stage): Promise<BuiltStage> => {
      const have = tasks.get(stage.index);
      if (have) return have;
      const srun: Run = {
        ...run,
        step: firstStep.get(stage.index) ?? run.step,
        out: (t) => output.write(stage.index, t),
        signal: cancel.signal,
      };
      const task = this.#buildStage(srun, stage, meta, stage === target ? labels : [], concurrent);
      tasks.set(stage.index, task);
      task.then(
        () => output.finish(stage.index),
        (err: unknown) => {
          // The first failure is the build's; the other stages are cancelled, and what they
          // fail with then is only that.
          failure ??= { err };
          cancel.abort(err);
          output.finish(stage.index);
        },
      );
      return task;
    };
    run.stageBuilt = (index) => {
      const stage = df.stages[index];
      if (!stage) return Promise.reject(new InvalidArgumentError(`stage ${index} was not built`));
      return start(stage);
    };
    try {
      for (const s of built) if (needed.has(s.index)) void start(s).catch(() => undefined);
      // Every stage is waited for, those started late too, before the build ends: none is
      // left running, and the cleanup after the build removes all their containers.
      for (let seen = 0; seen < tasks.size;) {
        seen = tasks.size;
        await Promise.allSettled([...tasks.values()]);
      }
    } finally {
      req.signal?.removeEventListener('abort', onClientGone);
      output.flush();
    }
    if (failure) throw failure.err;
    const final = (await tasks.get(target.index))?.image;
    const unused = Object.keys(req.buildArgs)
      .filter((k) => !run.used.has(k) && !proxyNames.has(k))
      .sort();
    if (unused.length > 0) {
      run.out(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n`);
    }
    if (!final) {
      throw new InvalidArgumentError('the target stage produced no image (FROM scratch alone)');
    }
    // As dockerd: quiet, the ID is the only line; otherwise an aux message carries it.
    if (req.quiet) run.progress({ stream: `${final.id}\n` });
    else run.progress({ aux: { ID: final.id } });
    run.out(`Successfully built ${shortId(final.id)}\n`);
    const tagged: string[] = [];
    for (const t of req.tags) {
      await this.#images.tag(final.id, t);
      tagged.push(t);
      run.out(`Successfully tagged ${familiar(t)}\n`);
    }
    return { id: final.id, tags: tagged };
  }

  #targetStage(df: Dockerfile, target: string): Stage {
    if (target === '') {
      const last = df.stages[df.stages.length - 1];
      if (!last) throw new InvalidArgumentError('no build stage in Dockerfile');
      return last;
    }
    const s = df.stages.find((x) => x.name === target.toLowerCase());
    if (!s) throw new InvalidArgumentError(`failed to reach build target ${target} in Dockerfile`);
    return s;
  }

  /** The stage a FROM or `--from` word names, if it names a stage before `before`. */
  #stageNamed(df: Dockerfile, word: string, before: number): Stage | undefined {
    const lower = word.toLowerCase();
    const byName = df.stages.find((s) => s.name === lower);
    if (byName) {
      if (byName.index >= before) {
        throw new InvalidArgumentError(
          byName.index === before
            ? `invalid from flag value ${word}: refers to current build stage`
            : `invalid from flag value ${word}: stage ${word} is defined after the stage that uses it`,
        );
      }
      return byName;
    }
    if (/^\d+$/.test(word)) {
      const n = Number(word);
      if (n >= before) {
        throw new InvalidArgumentError(
          `invalid from flag value ${word}: refers to a current or later build stage`,
        );
      }
      return df.stages[n];
    }
    return undefined;
  }

  /** The target and every stage it depends on (FROM, COPY --from, RUN --mount from=). */
  #neededStages(df: Dockerfile, target: Stage): Set<number> {
    const needed = new Set<number>();
    const visit = (s: Stage): void => {
      if (needed.has(s.index)) return;
      needed.add(s.index);
      const fromStage = this.#stageNamed(df, s.from.image, s.index);
      if (fromStage) visit(fromStage);
      for (const ins of s.instructions) {
        if ((ins.kind === 'COPY' || ins.kind === 'ADD') && ins.from !== undefined) {
          const dep = this.#stageNamed(df, ins.from, s.index);
          if (dep) visit(dep);
        }
        if (ins.kind === 'RUN') {
          for (const m of ins.mounts) {
            const from = m.options.from;
            const dep = from !== undefined ? this.#stageNamed(df, from, s.index) : undefined;
            if (dep) visit(dep);
          }
        }
      }
    };
    visit(target);
    return needed;
  }

  #freshState(config: ImageRuntimeConfig, req: BuildRequest, escape: string): StageState {
    return {
      config,
      args: new Map(),
      buildArgs: req.buildArgs,
      used: new Set(),
      cmdSet: false,
      escape,
    };
  }

  #stepLine(run: Run, original: string): void {
    run.step++;
    run.out(`Step ${run.step}/${run.total} : ${original}\n`);
  }

  /**
   * Builds a stage. When stages run concurrently (`located`), a failure names its step and
   * Dockerfile line: the "Step" line last printed may then be another stage's.
   */
  async #buildStage(
    run: Run,
    stage: Stage,
    meta: StageState,
    labels: string[],
    located: boolean,
  ): Promise<BuiltStage> {
    let at = { step: run.step + 1, ins: stage.from as Instruction };
    const stepLine = (ins: Instruction): void => {
      run.signal?.throwIfAborted();
      this.#stepLine(run, ins.original);
      at = { step: run.step, ins };
    };
    try {
      return await this.#stageSteps(run, stage, meta, labels, stepLine);
    } catch (err: unknown) {
      if (located && err instanceof Error && !locatedErrors.has(err) && !run.signal?.aborted) {
        locatedErrors.add(err);
        const where = at.ins.line > 0 ? ` (line ${at.ins.line})` : '';
        err.message = `Step ${at.step}/${run.total} : ${at.ins.original}${where}: ${err.message}`;
      }
      throw err;
    }
  }

  async #stageSteps(
    run: Run,
    stage: Stage,
    meta: StageState,
    labels: string[],
    stepLine: (ins: Instruction) => void,
  ): Promise<BuiltStage> {
    const { df, req } = run;
    stepLine(stage.from);
    const metaLookup = (name: string): string | undefined => {
      if (!meta.args.has(name)) return undefined;
      const given = req.buildArgs[name];
      if (given !== undefined && given !== null) return given;
      return meta.args.get(name);
    };
    let imageName: string;
    try {
      imageName = expandWord(stage.from.image, metaLookup, { escape: df.escape });
    } catch (err: unknown) {
      throw new InvalidArgumentError(`FROM ${stage.from.image}: ${String(err)}`, { cause: err });
    }
    let image: ImageRecord | undefined;
    let config: ImageRuntimeConfig;
    const fromStage = this.#stageNamed(df, imageName, stage.index);
    if (fromStage) {
      const built = await run.stageBuilt(fromStage.index);
      image = built.image;
      config = structuredClone(built.config);
    } else if (imageName.toLowerCase() === 'scratch') {
      image = undefined;
      config = { Env: [defaultPathEnv] };
    } else {
      if (imageName === '')
        throw new InvalidArgumentError('base name (${' + '}) should not be blank');
      // As the classic builder: a FROM image is pulled when absent, or always with --pull.
      // Stages built at once that start from the same image share one pull (whose progress
      // shows in the stage that began it).
      const pull = (): Promise<void> => {
        const ongoing = run.pulls.get(imageName);
        if (ongoing) return ongoing;
        const pulling = this.#images.pull(imageName, {
          onProgress: (p) => {
            if (p.progressDetail && p.status === 'Downloading') return;
            run.out(`${p.id ? `${p.id}: ` : ''}${p.status ?? ''}\n`);
          },
        });
        run.pulls.set(imageName, pulling);
        return pulling;
      };
      if (run.req.pull) await pull();
      try {
        image = await this.#images.get(imageName);
      } catch (err: unknown) {
        if (!(err instanceof NotFoundError) || run.req.pull) throw err;
        await pull();
        image = await this.#images.get(imageName);
      }
      config = structuredClone(image.config.config ?? {});
    }
    if (image) run.out(` ---> ${shortId(image.id)}\n`);
    // As dockerd: a stage's environment always has a PATH.
    if (!(config.Env ?? []).some((e) => e.startsWith('PATH='))) {
      config.Env = [...(config.Env ?? []), defaultPathEnv];
    }
    const state = this.#freshState(config, req, df.escape);
    // The meta ARGs' values stay visible to a stage only through its own ARG lines.
    const triggers = state.config.OnBuild ?? [];
    delete state.config.OnBuild;
    let current = image;
    if (triggers.length > 0) {
      run.out(`# Executing ${triggers.length} build trigger${triggers.length === 1 ? '' : 's'}\n`);
      for (const t of triggers) {
        const parsed = parseDockerfile(`FROM scratch\n${t}`).stages[0]?.instructions[0];
        if (!parsed) continue;
        current = await this.#step(run, stage, state, current, parsed, meta);
      }
    }
    for (const ins of stage.instructions) {
      stepLine(ins);
      current = await this.#step(run, stage, state, current, ins, meta);
    }
    // `--label`: one LABEL step per label, sorted, as dockerd adds them.
    for (const k of labels) {
      const v = req.labels[k] ?? '';
      const ins: Instruction = {
        kind: 'LABEL',
        line: 0,
        original: `LABEL ${k}=${v}`,
        pairs: [{ key: escapeLiteral(k), value: escapeLiteral(v) }],
      };
      stepLine(ins);
      current = await this.#step(run, stage, state, current, ins, meta);
    }
    for (const u of state.used) run.used.add(u);
    return { image: current, config: state.config };
  }

  /** The host's user and group names, read once (they name owners in `--from` sums). */
  #hostNames(): Promise<HostNames> {
    this.#names ??= hostNames();
    return this.#names;
  }

  /** A step's cache key; a build with SOURCE_DATE_EPOCH has keys of its own. */
  #key(run: Run, parts: Record<string, unknown>): string {
    return cacheKey(run.epoch ? { ...parts, epoch: run.epoch.getTime() } : parts);
  }

  /**
   * Finds a cached step image, by dockerd's rules. Without `--cache-from`: a step image built
   * here with the same parent and the same key. With it: such an image only when it is an
   * ancestor of a `--cache-from` image; otherwise a `--cache-from` image whose history and
   * layers begin with the parent's and whose next history entry has the step's `created_by`
   * (the last one is the image itself; an earlier one is restored as a step image from it).
   */
  async #cached(
    run: Run,
    parent: ImageRecord | undefined,
    key: string,
    step: { createdBy: string; state: StageState },
  ): Promise<ImageRecord | undefined> {
    if (run.req.noCache) return undefined;
    const all = await this.#images.list();
    const local = all.find((r) => r.buildKey === key && r.parent === parent?.id);
    // As dockerd: --cache-from given, the local cache counts only under its images, even when
    // none of them is here.
    if (run.req.cacheFrom.length === 0) return local;
    const byId = new Map(all.map((r) => [r.id, r]));
    const ancestor = (of: ImageRecord, id: string): boolean => {
      for (let p: ImageRecord | undefined = of; p; p = p.parent ? byId.get(p.parent) : undefined) {
        if (p.id === id) return true;
      }
      return false;
    };
    if (local && run.cacheFrom.some((s) => ancestor(s, local.id))) return local;
    const at = parent?.config.history?.length ?? 0;
    for (const source of run.cacheFrom) {
      const history = source.config.history ?? [];
      if (!continues(source, parent) || history[at]?.created_by !== step.createdBy) continue;
      if (at === history.length - 1) return source;
      const opts: Parameters<ImageService['build']>[0] = {
        config: withoutEmpty(step.state.config),
        createdBy: step.createdBy,
        buildKey: key,
        restore: { image: source, historyIndex: at },
      };
      if (parent) opts.parent = parent;
      if (run.req.platform) opts.platform = run.req.platform;
      const restored = await this.#images.build(opts);
      // As dockerd: once a source matched, the build follows that one alone.
      run.cacheFrom = [source];
      return restored;
    }
    return undefined;
  }

  async #commitStep(
    run: Run,
    parent: ImageRecord | undefined,
    state: StageState,
    key: string,
    createdBy: string,
    diff?: Readable,
  ): Promise<ImageRecord> {
    const opts: Parameters<ImageService['build']>[0] = {
      config: withoutEmpty(state.config),
      createdBy,
      buildKey: key,
    };
    if (parent) opts.parent = parent;
    if (diff) opts.diff = diff;
    if (run.req.platform) opts.platform = run.req.platform;
    if (run.epoch) opts.created = run.epoch.toISOString();
    const image = await this.#images.build(opts);
    run.out(` ---> ${shortId(image.id)}\n`);
    return image;
  }

  async #step(
    run: Run,
    stage: Stage,
    state: StageState,
    current: ImageRecord | undefined,
    ins: Instruction,
    meta: StageState,
  ): Promise<ImageRecord | undefined> {
    switch (ins.kind) {
      case 'FROM':
        throw new InvalidArgumentError('FROM inside a stage');
      case 'RUN':
        return this.#runStep(run, stage, state, current, ins);
      case 'COPY':
      case 'ADD':
        return this.#copyStep(run, stage, state, current, ins);
      case 'WORKDIR':
        return this.#workdirStep(run, state, current, ins.raw);
      case 'ARG': {
        // An ARG without a default takes the value of the same ARG before FROM.
        const withMeta: Instruction = {
          ...ins,
          args: ins.args.map((a) =>
            a.value === undefined && meta.args.has(a.name) && meta.args.get(a.name) !== undefined
              ? { name: a.name, value: escapeLiteral(meta.args.get(a.name) ?? '') }
              : a,
          ),
        };
        return this.#metaStep(run, state, current, withMeta);
      }
      default:
        return this.#metaStep(run, state, current, ins);
    }
  }

  async #metaStep(
    run: Run,
    state: StageState,
    current: ImageRecord | undefined,
    ins: Instruction,
  ): Promise<ImageRecord> {
    const before = state.author;
    const r = applyMeta(state, ins);
    state.config = r.config;
    const key = this.#key(run, {
      parent: current?.id ?? '',
      createdBy: r.createdBy,
      config: r.config,
      author: state.author ?? before ?? '',
    });
    const hit = await this.#cached(run, current, key, { createdBy: r.createdBy, state });
    if (hit) {
      run.out(' ---> Using cache\n');
      run.out(` ---> ${shortId(hit.id)}\n`);
      return hit;
    }
    return this.#commitStep(run, current, state, key, r.createdBy);
  }

  async #newContainer(
    run: Run,
    image: ImageRecord,
    config: Record<string, unknown>,
    network?: string,
    mounts: HostConfigMount[] = [],
    transientEnv: readonly string[] = [],
  ): Promise<string> {
    const mode = network && network !== 'default' ? network : run.req.networkMode || 'default';
    const { Id } = await this.#containers.create(
      {
        Image: image.id,
        Entrypoint: [''],
        Cmd: ['/bin/true'],
        ...config,
        Labels: {},
        HostConfig: {
          NetworkMode: mode,
          ...(mounts.length > 0 ? { Mounts: mounts } : {}),
          ...(run.req.extraHosts.length > 0 ? { ExtraHosts: run.req.extraHosts } : {}),
        },
      },
      undefined,
      transientEnv.length > 0 ? { transientEnv } : {},
    );
    run.containers.add(Id);
    // Its files are read and written before it starts: only once its rootfs is the task's.
    try {
      await this.#containers.prepare(Id);
    } catch (err: unknown) {
      // No task can be made (an image without the command, as scratch's): its files are
      // then read through the snapshot, with nothing else mounting it; start reports it.
      if (!(err instanceof InvalidArgumentError)) throw err;
    }
    return Id;
  }

  async #removeContainer(id: string): Promise<void> {
    try {
      await this.#containers.remove(id, { force: true, volumes: true, link: false });
    } catch (err: unknown) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }

  /**
   * As #finishContainer, the removal left to go on beside the next steps (a step container's
   * files are no step's input). One that fails stays in `run.containers`, for the build's
   * clean-up to remove or to fail with.
   */
  #finishLater(run: Run, id: string, announce: boolean): void {
    run.containers.delete(id);
    if (announce) run.out(`Removing intermediate container ${shortId(id)}\n`);
    run.removals.push(
      this.#removeContainer(id).catch(() => {
        run.containers.add(id);
      }),
    );
  }

  async #finishContainer(run: Run, id: string, announce: boolean): Promise<void> {
    await this.#removeContainer(id);
    run.containers.delete(id);
    if (announce) run.out(`Removing intermediate container ${shortId(id)}\n`);
  }

  async #runStep(
    run: Run,
    stage: Stage,
    state: StageState,
    current: ImageRecord | undefined,
    ins: Instruction & { kind: 'RUN' },
  ): Promise<ImageRecord> {
    let command = ins.command;
    if (ins.heredocs.length > 0 && !command.json) {
      const first = ins.heredocs[0];
      if (first && /^<<-?["']?[A-Za-z0-9_.-]+["']?$/.test(command.text.trim())) {
        command = { json: false, text: first.content };
      } else {
        command = {
          json: false,
          text: `${command.text}\n${ins.heredocs.map((h) => `${h.content}${h.name}\n`).join('')}`,
        };
      }
    }
    const mounts = await this.#runMounts(run, stage, state, ins.mounts);
    const { argv, createdBy, env } = runStep(state, command);
    const key = this.#key(run, {
      parent: current?.id ?? '',
      createdBy,
      env,
      config: state.config,
      network: ins.network ?? '',
      mounts: mounts.key,
    });
    const hit = await this.#cached(run, current, key, { createdBy, state });
    if (hit) {
      run.out(' ---> Using cache\n');
      run.out(` ---> ${shortId(hit.id)}\n`);
      return hit;
    }
    if (!current)
      throw new InvalidArgumentError('RUN needs a base image with a shell: FROM scratch has none');
    // Secrets are looked for only now, as BuildKit's: a cached step needs none.
    const secrets = await mountRunSecrets(
      secretDir(run.work),
      mounts.secrets,
      run.req.secrets ?? new Map(),
      this.#hostIds,
    );
    try {
      return await this.#runContainer(run, state, current, ins, argv, createdBy, env, key, {
        host: [...mounts.host, ...secrets.mounts],
        secrets,
      });
    } finally {
      await secrets.release();
    }
  }

  /** The container half of a RUN step (no cache hit): run it, commit its changes. */
  async #runContainer(
    run: Run,
    state: StageState,
    current: ImageRecord,
    ins: Instruction & { kind: 'RUN' },
    argv: string[],
    createdBy: string,
    env: string[],
    key: string,
    mounts: { host: HostConfigMount[]; secrets: RunSecrets },
  ): Promise<ImageRecord> {
    const config: Record<string, unknown> = {
      Cmd: argv,
      Env: env,
      WorkingDir: state.config.WorkingDir ?? '',
      User: state.config.User ?? '',
      AttachStdout: true,
      AttachStderr: true,
    };
    const cid = await this.#newContainer(
      run,
      current,
      config,
      ins.network,
      mounts.host,
      mounts.secrets.env,
    );
    try {
      return await this.#runIn(run, state, current, cid, argv, createdBy, key, mounts);
    } finally {
      // Gone before the secrets' tmpfs is: nothing keeps a bind of it.
      if (run.containers.has(cid)) await this.#finishContainer(run, cid, false);
    }
  }

  async #runIn(
    run: Run,
    state: StageState,
    current: ImageRecord,
    cid: string,
    argv: string[],
    createdBy: string,
    key: string,
    mounts: { host: HostConfigMount[]; secrets: RunSecrets },
  ): Promise<ImageRecord> {
    // As dockerd does: a RUN container gets its image's volume mount points made, so they
    // show in the layer.
    const missing: CopyEntry[] = [];
    for (const v of Object.keys(state.config.Volumes ?? {})) {
      const abs = posix.resolve('/', v);
      if (abs === '/' || (await this.#exists(cid, abs))) continue;
      missing.push({
        name: abs.slice(1),
        type: 'directory',
        mode: 0o755,
        uid: 0,
        gid: 0,
        mtime: new Date(),
        size: 0,
      });
    }
    if (missing.length > 0) {
      await this.#containers.putArchive(cid, '/', entriesTar(missing), {
        noOverwriteDirNonDir: false,
        copyUIDGID: true,
      });
    }
    run.out(` ---> Running in ${shortId(cid)}\n`);
    const attachment = await this.#containers.attach(cid, {
      stdin: false,
      stdout: true,
      stderr: true,
      logs: false,
      stream: true,
    });
    const pump = (async (): Promise<void> => {
      for await (const chunk of attachment.output as AsyncIterable<{ data: Buffer | string }>) {
        const data = typeof chunk.data === 'string' ? chunk.data : chunk.data.toString('utf8');
        run.out(data);
      }
    })();
    let code: number;
    // Another stage failing kills the command (the build's cleanup then removes it).
    const kill = (): void => {
      this.#containers.kill(cid).catch(() => undefined);
    };
    run.signal?.addEventListener('abort', kill, { once: true });
    try {
      await this.#containers.start(cid);
      if (run.signal?.aborted) kill();
      const exit = await this.#containers.wait(cid, 'not-running');
      code = exit.StatusCode;
    } finally {
      run.signal?.removeEventListener('abort', kill);
      await Promise.race([pump, new Promise((r) => setTimeout(r, 2000))]);
      attachment.close();
    }
    run.signal?.throwIfAborted();
    if (code !== 0) {
      await this.#finishContainer(run, cid, false);
      throw new BuildStepError(
        `The command '${argv.join(' ')}' returned a non-zero code: ${code}`,
        code,
      );
    }
    const fileTargets = new Set(mounts.secrets.targets);
    const diff = withoutMountPoints(
      await this.#containers.diff(cid),
      mounts.host.map((m) => m.Target ?? '').filter((t) => !fileTargets.has(t)),
      run.epoch,
      mounts.secrets.targets,
    );
    // With secrets, the container goes before their tmpfs does (see #runContainer): at once.
    const { secrets } = mounts;
    const later = secrets.mounts.length + secrets.env.length + secrets.targets.length === 0;
    const image = await this.#commitStepAfter(
      run,
      current,
      state,
      key,
      createdBy,
      diff,
      cid,
      later,
    );
    return image;
  }

  /**
   * RUN's `--mount`s as container mounts, and what of them goes into the cache key: a bind's
   * content (from the context or a stage), a cache's id, a tmpfs's target.
   */
  async #runMounts(
    run: Run,
    stage: Stage,
    state: StageState,
    mounts: RunMount[],
  ): Promise<{ host: HostConfigMount[]; key: unknown[]; secrets: SecretMount[] }> {
    const workdir = state.config.WorkingDir || '/';
    const host: HostConfigMount[] = [];
    const key: unknown[] = [];
    const secrets: SecretMount[] = [];
    for (const m of mounts) {
      const o = m.options;
      const target = posix.resolve('/', o.target ?? '');
      const readonly = ['ro', 'readonly'].some((k) => o[k] !== undefined && o[k] !== 'false');
      switch (m.type) {
        case 'tmpfs':
          host.push({ Type: 'tmpfs', Target: target });
          key.push({ type: 'tmpfs', target });
          break;
        case 'cache': {
          const id = o.id || target;
          const dir = path.join(this.#cacheRoot, cacheKey({ id }).slice('sha256:'.length, 39));
          try {
            await fs.mkdir(dir, { recursive: true });
            const mode = o.mode !== undefined ? parseInt(o.mode, 8) : 0o755;
            if (Number.isNaN(mode)) throw new InvalidArgumentError(`invalid cache mode ${o.mode}`);
            await fs.chmod(dir, mode);
            await fs.chown(dir, Number(o.uid ?? 0), Number(o.gid ?? 0));
          } catch (err: unknown) {
            if (err instanceof InvalidArgumentError) throw err;
            throw new InvalidArgumentError(`cache mount ${id}: ${String(err)}`, { cause: err });
          }
          host.push({ Type: 'bind', Source: dir, Target: target, ReadOnly: readonly });
          key.push({ type: 'cache', target, id, readonly });
          break;
        }
        case 'bind': {
          const source = o.source ?? o.src ?? '.';
          if (o.from === undefined) await run.context?.materialize();
          const root =
            o.from !== undefined ? await this.#fromRoot(run, stage, o.from, [source]) : run.ctx;
          const src = await resolveInContext(root, cleanSource(source));
          let st;
          try {
            st = await fs.stat(src);
          } catch (err: unknown) {
            throw new NotFoundError(`bind mount source ${source}: not found`, { cause: err });
          }
          const entries = st.isDirectory()
            ? await treeEntries(src, '', undefined, () => false)
            : [entryOf(src, st, posix.basename(source), undefined)];
          const hash = await hashEntries(entries);
          let bound = src;
          const rw = ['rw', 'readwrite'].some((k) => o[k] !== undefined && o[k] !== 'false');
          if (rw) {
            // Writes to a read-write bind are thrown away: they go to a copy.
            bound = path.join(run.work, `bind-${randomBytes(4).toString('hex')}`);
            await fs.cp(src, bound, { recursive: true, verbatimSymlinks: true });
          }
          host.push({ Type: 'bind', Source: bound, Target: target, ReadOnly: !rw });
          key.push({ type: 'bind', target, hash, rw });
          break;
        }
        case 'secret': {
          // The key has the mount's shape, never the value: a new value reuses the cache.
          const given = m.secret ?? this.#expandedSecret(state, m.secretSpec ?? '');
          const sm: SecretMount =
            given.target === undefined
              ? given
              : { ...given, target: posix.resolve(workdir, given.target) };
          secrets.push(sm);
          key.push({ type: 'secret', ...sm });
          break;
        }
        default:
          throw new InvalidArgumentError(
            `RUN --mount=type=${m.type} is not supported by berth's builder yet`,
          );
      }
    }
    return { host, key, secrets };
  }

  /** A secret mount flag with variables: checked once each value is expanded. */
  #expandedSecret(state: StageState, spec: string): SecretMount {
    try {
      return parseSecretMount(spec, (v) => expand(state, v));
    } catch (err: unknown) {
      if (err instanceof SecretMountError) {
        throw new InvalidArgumentError(`--mount=${spec}: ${err.message}`, { cause: err });
      }
      throw err;
    }
  }

  /** Commits a container's diff, then removes the container and says so. */
  async #commitStepAfter(
    run: Run,
    parent: ImageRecord,
    state: StageState,
    key: string,
    createdBy: string,
    diff: Readable,
    container: string,
    later: boolean,
  ): Promise<ImageRecord> {
    const opts: Parameters<ImageService['build']>[0] = {
      parent,
      config: withoutEmpty(state.config),
      createdBy,
      buildKey: key,
      diff,
    };
    if (run.epoch) opts.created = run.epoch.toISOString();
    const image = await this.#images.build(opts);
    if (later) this.#finishLater(run, container, true);
    else await this.#finishContainer(run, container, true);
    run.out(` ---> ${shortId(image.id)}\n`);
    return image;
  }

  async #workdirStep(
    run: Run,
    state: StageState,
    current: ImageRecord | undefined,
    raw: string,
  ): Promise<ImageRecord> {
    const dir = workdirOf(state, raw);
    state.config = { ...state.config, WorkingDir: dir };
    const createdBy = nopCreatedByOne(state.config, `WORKDIR ${dir}`);
    const key = this.#key(run, { parent: current?.id ?? '', createdBy, config: state.config });
    const hit = await this.#cached(run, current, key, { createdBy, state });
    if (hit) {
      run.out(' ---> Using cache\n');
      run.out(` ---> ${shortId(hit.id)}\n`);
      return hit;
    }
    const components = dir.split('/').filter((p) => p !== '');
    const dirEntries = (missingFrom: number): CopyEntry[] =>
      components.slice(missingFrom).map((_, i) => ({
        name: components.slice(0, missingFrom + i + 1).join('/'),
        type: 'directory',
        mode: 0o755,
        uid: 0,
        gid: 0,
        mtime: new Date(),
        size: 0,
      }));
    if (!current || current.chainIDs.length === 0) {
      return this.#commitStep(
        run,
        current,
        state,
        key,
        createdBy,
        entriesTar(clamp(dirEntries(0), run.epoch)),
      );
    }
    const id = await this.#newContainer(run, current, {});
    run.out(` ---> Running in ${shortId(id)}\n`);
    let missingFrom = components.length;
    for (let i = components.length; i > 0; i--) {
      if (await this.#exists(id, `/${components.slice(0, i).join('/')}`)) break;
      missingFrom = i - 1;
    }
    if (missingFrom < components.length) {
      await this.#containers.putArchive(id, '/', entriesTar(dirEntries(missingFrom)), {
        noOverwriteDirNonDir: false,
        copyUIDGID: true,
      });
    }
    const diff = withoutMountPoints(await this.#containers.diff(id), [], run.epoch);
    return this.#commitStepAfter(run, current, state, key, createdBy, diff, id, true);
  }

  async #exists(container: string, p: string): Promise<boolean> {
    try {
      await this.#containers.statPath(container, p);
      return true;
    } catch (err: unknown) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
  }

  async #isDir(container: string | undefined, p: string): Promise<boolean> {
    if (!container) return false;
    try {
      const st = await this.#containers.statPath(container, p);
      return (st.mode & 0x80000000) !== 0;
    } catch (err: unknown) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
  }

  /** Owner for `--chown`, names looked up in the image's /etc/passwd and /etc/group. */
  async #owner(container: string | undefined, spec: string): Promise<{ uid: number; gid: number }> {
    const [user = '', group] = spec.split(':');
    const read = async (file: string): Promise<string[][]> => {
      if (!container) return [];
      try {
        const { tar } = await this.#containers.getArchive(container, file);
        const text = await fileFromTar(tar);
        return text.split('\n').map((l) => l.split(':'));
      } catch (err: unknown) {
        if (err instanceof NotFoundError) return [];
        throw err;
      }
    };
    let uid: number;
    let gid: number | undefined;
    if (/^\d+$/.test(user)) uid = Number(user);
    else {
      const line = (await read('/etc/passwd')).find((l) => l[0] === user);
      if (!line)
        throw new InvalidArgumentError(
          `unable to convert uid/gid chown string to host mapping: can't find uid for user ${user}: no such user: ${user}`,
        );
      uid = Number(line[2]);
    }
    // A user name alone means the group of the same name, as dockerd reads `--chown`.
    const groupName =
      group !== undefined && group !== '' ? group : /^\d+$/.test(user) ? undefined : user;
    if (groupName !== undefined) {
      const group = groupName;
      if (/^\d+$/.test(group)) gid = Number(group);
      else {
        const line = (await read('/etc/group')).find((l) => l[0] === group);
        if (!line)
          throw new InvalidArgumentError(
            `unable to convert uid/gid chown string to host mapping: can't find gid for group ${group}: no such group: ${group}`,
          );
        gid = Number(line[2]);
      }
    }
    return { uid, gid: gid ?? uid };
  }

  /** Where `--from` sources come from: a directory holding the paths asked for. */
  async #fromRoot(run: Run, stage: Stage, from: string, sources: string[]): Promise<string> {
    const fromStage = this.#stageNamed(run.df, from, stage.index);
    let image: ImageRecord | undefined;
    if (fromStage) {
      image = (await run.stageBuilt(fromStage.index)).image;
    } else {
      try {
        image = await this.#images.get(from);
      } catch (err: unknown) {
        if (err instanceof NotFoundError) {
          throw new NotFoundError(`invalid from flag value ${from}: No such image: ${from}`, {
            cause: err,
          });
        }
        throw err;
      }
    }
    const root = path.join(run.work, `from-${randomBytes(4).toString('hex')}`);
    await fs.mkdir(root, { recursive: true });
    if (!image || image.chainIDs.length === 0) return root;
    const id = await this.#newContainer(run, image, {});
    try {
      const wanted = new Set<string>();
      for (const s of sources) {
        const rel = cleanSource(s);
        // A glob needs the directory it matches in; a plain path just itself.
        const parts = rel.split('/');
        const firstGlob = parts.findIndex((p) => /[*?[]/.test(p));
        wanted.add(firstGlob < 0 ? rel : parts.slice(0, firstGlob).join('/'));
      }
      for (const rel of wanted) {
        let got: { tar: Readable };
        try {
          got = await this.#containers.getArchive(id, `/${rel}`);
        } catch (err: unknown) {
          if (err instanceof NotFoundError) continue;
          throw err;
        }
        const { extract } = await import('../archive/apply.js');
        const dest = path.join(root, path.dirname(rel));
        await fs.mkdir(dest, { recursive: true });
        await extract(root, got.tar, { whiteouts: 'none', base: path.dirname(rel) || '.' });
      }
    } finally {
      await this.#finishContainer(run, id, false);
    }
    return root;
  }

  async #copyStep(
    run: Run,
    stage: Stage,
    state: StageState,
    current: ImageRecord | undefined,
    ins: CopyIns,
  ): Promise<ImageRecord> {
    const keyword = ins.kind;
    const rawSources = ins.sources.map((s) => expand(state, s));
    const destWritten = expand(state, ins.dest);
    const from = ins.from !== undefined ? expand(state, ins.from) : undefined;
    if (ins.kind === 'ADD' && from !== undefined)
      throw new InvalidArgumentError('ADD does not take --from');
    const urls = ins.kind === 'ADD' ? rawSources.filter((s) => /^https?:\/\//.test(s)) : [];
    const local = rawSources.filter((s) => !urls.includes(s));
    const root = from !== undefined ? await this.#fromRoot(run, stage, from, local) : run.ctx;
    // From the context's index while its files are not needed (a cache hit needs only sums).
    const index = from === undefined ? run.context?.index : undefined;
    let found: Source[] = [];
    const indexed: IndexedSource[] = [];
    if (index) for (const s of local) indexed.push(...index.findSources(s, keyword));
    else for (const s of local) found.push(...(await findSources(root, s, keyword)));
    const count = (index ? indexed.length : found.length) + urls.length + ins.heredocs.length;
    const workdir = state.config.WorkingDir || '/';
    const trailing = destWritten.endsWith('/') || destWritten === '.' || destWritten.endsWith('/.');
    const destAbs = posix.resolve(workdir, destWritten);
    if (count > 1 && !trailing) {
      throw new InvalidArgumentError(
        `When using ${keyword} with more than one source file, the destination must be a directory and end with a /`,
      );
    }
    const chownSpec = ins.chown !== undefined ? expand(state, ins.chown) : undefined;
    const excluded = (rel: string): boolean =>
      ins.exclude.some((p) => globMatch(p, rel) || globMatch(p, posix.basename(rel)));
    const heredocData = ins.heredocs.map((h) =>
      Buffer.from(
        h.expand ? expand(state, `"${h.content.replace(/(["\\])/g, '\\$1')}"`) : h.content,
      ),
    );
    const downloads: { data: Buffer; mtime: Date }[] = [];
    for (const u of urls) downloads.push(await download(u));
    // The cache is checked before any container is made: the parent fixes the rest. The
    // source's hash is dockerd's (see copySourceHash), so history matches the classic builder.
    const style: SumStyle = from !== undefined ? 'image' : 'context';
    const names = await this.#hostNames();
    const hashes: string[] = [];
    const sumSource: SumSource = { root, style, names, entries: run.entries };
    if (index) for (const f of indexed) hashes.push(index.sourceHash(f, excluded));
    else for (const f of found) hashes.push(await copySourceHash(sumSource, f, excluded));
    for (const [i, u] of urls.entries()) {
      // A download is summed as dockerd's file of it: 0600, owned by the daemon.
      const data = downloads[i]?.data ?? Buffer.alloc(0);
      const uid = process.getuid?.() ?? 0;
      const gid = process.getgid?.() ?? 0;
      hashes.push(
        fileSum(downloadName(u), data, 0o100600, {
          uid,
          gid,
          uname: names.user(uid),
          gname: names.group(gid),
        }),
      );
    }
    // Heredocs (which the classic builder lacks) are summed as files of their names.
    for (const [i, h] of ins.heredocs.entries()) {
      hashes.push(`file:${fileSum(h.name, heredocData[i] ?? Buffer.alloc(0), 0o644)}`);
    }
    // One source: its own hash (a lone URL's bare); more: dockerd's `multi:` over them all.
    const source = hashes.length === 1 ? (hashes[0] ?? '') : hashList('multi', hashes);
    // dockerd writes the --chown comment glued to the source hash.
    const chownComment = chownSpec !== undefined ? `--chown=${chownSpec}` : '';
    const createdBy = nopCreatedByOne(
      state.config,
      `${keyword} ${chownComment}${source} in ${destWritten} `,
    );
    const key = this.#key(run, {
      parent: current?.id ?? '',
      createdBy,
      config: state.config,
      chown: ins.chown ?? '',
      chmod: ins.chmod ?? '',
      exclude: ins.exclude,
      parents: ins.parents,
    });
    const hit = await this.#cached(run, current, key, { createdBy, state });
    if (hit) {
      run.out(' ---> Using cache\n');
      run.out(` ---> ${shortId(hit.id)}\n`);
      return hit;
    }
    if (from === undefined && run.context) await run.context.materialize();
    if (index) {
      // The same sources, now as files (the index found them; the files are its copy).
      found = [];
      for (const s of local) found.push(...(await findSources(root, s, keyword)));
    }
    const hasLayers = current !== undefined && current.chainIDs.length > 0;
    const container = hasLayers && current ? await this.#newContainer(run, current, {}) : undefined;
    try {
      const owner =
        chownSpec !== undefined
          ? await this.#owner(container, chownSpec)
          : from !== undefined
            ? undefined
            : { uid: 0, gid: 0 };
      const chmod = ins.chmod !== undefined ? parseInt(ins.chmod, 8) : undefined;
      const destIsDir = trailing || (await this.#isDir(container, destAbs));
      const entries: CopyEntry[] = [];
      const made = new Set<string>();
      const archives: { host: string; dest: string }[] = [];
      for (const src of found) {
        if (src.stat.isDirectory()) {
          const base = ins.parents ? posix.join(destAbs, src.rel) : destAbs;
          entries.push(...(await this.#missingDirs(container, base, owner, made)));
          entries.push(...(await treeEntries(src.host, base.slice(1), owner, excluded)));
          continue;
        }
        if (ins.kind === 'ADD' && (await isArchive(src.host))) {
          // An archive always unpacks into the destination, as a directory.
          entries.push(...(await this.#missingDirs(container, destAbs, owner, made)));
          archives.push({ host: src.host, dest: destAbs });
          continue;
        }
        const name = destIsDir
          ? posix.join(destAbs, ins.parents ? src.rel : posix.basename(src.rel))
          : destAbs;
        entries.push(...(await this.#missingDirs(container, posix.dirname(name), owner, made)));
        const e = entryOf(src.host, src.stat, name.slice(1), owner);
        if (ins.kind === 'ADD' && owner === undefined) {
          e.uid = 0;
          e.gid = 0;
        }
        entries.push(e);
      }
      for (const [i, h] of ins.heredocs.entries()) {
        const data = heredocData[i] ?? Buffer.alloc(0);
        const name = destIsDir ? posix.join(destAbs, h.name) : destAbs;
        entries.push(...(await this.#missingDirs(container, posix.dirname(name), owner, made)));
        entries.push({
          name: name.slice(1),
          type: 'file',
          mode: 0o644,
          uid: owner?.uid ?? 0,
          gid: owner?.gid ?? 0,
          mtime: new Date(),
          size: data.length,
          data,
        });
      }
      for (const [i, u] of urls.entries()) {
        const { data, mtime } = downloads[i] ?? { data: Buffer.alloc(0), mtime: new Date() };
        const base = downloadName(u);
        const name = destIsDir ? posix.join(destAbs, base) : destAbs;
        entries.push(...(await this.#missingDirs(container, posix.dirname(name), owner, made)));
        entries.push({
          name: name.slice(1),
          type: 'file',
          mode: 0o600,
          uid: owner?.uid ?? 0,
          gid: owner?.gid ?? 0,
          mtime,
          size: data.length,
          data,
        });
      }
      if (chmod !== undefined) for (const e of entries) if (e.type !== 'symlink') e.mode = chmod;
      if (!container) {
        if (archives.length > 0)
          throw new InvalidArgumentError('ADD of an archive onto scratch is not supported yet');
        return this.#commitStep(
          run,
          current,
          state,
          key,
          createdBy,
          entriesTar(clamp(withParents(entries), run.epoch)),
        );
      }
      if (entries.length > 0) {
        await this.#containers.putArchive(container, '/', entriesTar(entries), {
          noOverwriteDirNonDir: false,
          copyUIDGID: true,
        });
      }
      for (const a of archives) {
        if (!(await this.#exists(container, a.dest))) {
          await this.#containers.putArchive(
            container,
            '/',
            entriesTar(
              withParents([
                {
                  name: a.dest.slice(1),
                  type: 'directory',
                  mode: 0o755,
                  uid: 0,
                  gid: 0,
                  mtime: new Date(),
                  size: 0,
                },
              ]),
            ),
            { noOverwriteDirNonDir: false, copyUIDGID: true },
          );
        }
        await this.#containers.putArchive(container, a.dest, createReadStream(a.host), {
          noOverwriteDirNonDir: false,
          copyUIDGID: true,
        });
      }
      const diff = withoutMountPoints(await this.#containers.diff(container), [], run.epoch);
      const image = await this.#images.build({
        parent: current as ImageRecord,
        config: withoutEmpty(state.config),
        createdBy,
        buildKey: key,
        diff,
        ...(run.epoch ? { created: run.epoch.toISOString() } : {}),
      });
      run.out(` ---> ${shortId(image.id)}\n`);
      return image;
    } finally {
      if (container) this.#finishLater(run, container, false);
    }
  }

  /**
   * Entries for the directories from `/` down to `dir` that do not exist yet: made 0755 and
   * owned by the `--chown` owner, as dockerd makes a destination's missing parents.
   */
  async #missingDirs(
    container: string | undefined,
    dir: string,
    owner: { uid: number; gid: number } | undefined,
    made: Set<string>,
  ): Promise<CopyEntry[]> {
    const parts = dir.split('/').filter((x) => x !== '');
    const out: CopyEntry[] = [];
    for (let i = 1; i <= parts.length; i++) {
      const rel = parts.slice(0, i).join('/');
      if (made.has(rel)) continue;
      if (await this.#exists2(container, `/${rel}`)) continue;
      made.add(rel);
      out.push({
        name: rel,
        type: 'directory',
        mode: 0o755,
        uid: owner?.uid ?? 0,
        gid: owner?.gid ?? 0,
        mtime: new Date(),
        size: 0,
      });
    }
    return out;
  }

  async #exists2(container: string | undefined, p: string): Promise<boolean> {
    if (!container) return false;
    return this.#exists(container, p);
  }

  stageSecrets(secrets: ReadonlyMap<string, Buffer>): string {
    return this.#staged.stage(secrets);
  }

  takeSecrets(handle: string): Map<string, Buffer> {
    return this.#staged.take(handle);
  }

  async prune(_options: {
    all: boolean;
  }): Promise<{ CachesDeleted: string[]; SpaceReclaimed: number }> {
    // Step images under a tagged image are that image's own layers: `all` cannot take them
    // either, so both forms remove the same set.
    const deleted: string[] = [];
    let space = 0;
    const users = this.#containers.imageUsers();
    for (;;) {
      const all = await this.#images.list();
      const parents = new Set(all.map((r) => r.parent).filter((p) => p !== undefined));
      const victims = all.filter(
        (r) =>
          r.buildKey !== undefined &&
          r.repoTags.length === 0 &&
          r.repoDigests.length === 0 &&
          !parents.has(r.id) &&
          (users.get(r.id) ?? 0) === 0,
      );
      if (victims.length === 0) break;
      for (const v of victims) {
        try {
          const res = await this.#images.remove(v.id, {
            force: false,
            noprune: true,
            inUse: (id) => (users.get(id) ?? 0) > 0,
          });
          deleted.push(v.id);
          space += v.layerSizes?.[v.layerSizes.length - 1] ?? 0;
          void res;
        } catch (err: unknown) {
          if (!(err instanceof NotFoundError)) throw err;
        }
      }
    }
    // RUN cache mounts go too, unless a build is using them now.
    if (this.#running === 0) {
      let names: string[] = [];
      try {
        names = await fs.readdir(this.#cacheRoot);
      } catch (err: unknown) {
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
      for (const n of names) {
        await fs.rm(path.join(this.#cacheRoot, n), { recursive: true, force: true });
        deleted.push(n);
      }
    }
    return { CachesDeleted: deleted, SpaceReclaimed: space };
  }
}

/**
 * Whether `image`'s history and layers begin with all of `parent`'s (dockerd's
 * `isValidParent`): entries equal member by member, layers equal in order.
 */
function continues(image: ImageRecord, parent: ImageRecord | undefined): boolean {
  const history = image.config.history ?? [];
  if (history.length === 0) return false;
  const ph = parent?.config.history ?? [];
  const pd = parent?.config.rootfs.diff_ids ?? [];
  if (ph.length === 0 && pd.length === 0) return true;
  const diffs = image.config.rootfs.diff_ids;
  if (ph.length >= history.length || pd.length > diffs.length) return false;
  return ph.every((h, i) => sameEntry(h, history[i])) && pd.every((d, i) => d === diffs[i]);
}

function sameEntry(a: HistoryEntry, b: HistoryEntry | undefined): boolean {
  if (!b) return false;
  return (
    (a.created ?? '') === (b.created ?? '') &&
    (a.created_by ?? '') === (b.created_by ?? '') &&
    (a.author ?? '') === (b.author ?? '') &&
    (a.comment ?? '') === (b.comment ?? '') &&
    (a.empty_layer ?? false) === (b.empty_layer ?? false)
  );
}

/** Errors that already name the step they failed at. */
const locatedErrors = new WeakSet<Error>();

const proxyNames = new Set([
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'FTP_PROXY',
  'ftp_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
]);

/** `name` as Docker prints a tag: `:latest` added when no tag is given. */
function familiar(t: string): string {
  return t.slice(t.lastIndexOf('/') + 1).includes(':') ? t : `${t}:latest`;
}

function escapeLiteral(v: string): string {
  return `'${v.replace(/'/g, `'"'"'`)}'`;
}

/** Config without empty optional members, as Docker's JSON leaves them out. */
function withoutEmpty(c: ImageRuntimeConfig): ImageRuntimeConfig {
  const out: ImageRuntimeConfig = { ...c };
  if (out.Cmd === null) delete out.Cmd;
  if (out.Entrypoint === null) delete out.Entrypoint;
  if (out.OnBuild === null || out.OnBuild?.length === 0) delete out.OnBuild;
  return out;
}

/** Entries with times no later than `epoch`. */
function clamp(entries: CopyEntry[], epoch: Date | undefined): CopyEntry[] {
  if (!epoch) return entries;
  return entries.map((e) => (e.mtime > epoch ? { ...e, mtime: epoch } : e));
}

/** Adds directory entries for every missing ancestor (all new on a scratch image). */
function withParents(entries: CopyEntry[]): CopyEntry[] {
  const have = new Set(entries.map((e) => e.name));
  const out: CopyEntry[] = [];
  for (const e of entries) {
    const parts = e.name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (have.has(p)) continue;
      have.add(p);
      out.push({
        name: p,
        type: 'directory',
        mode: 0o755,
        uid: 0,
        gid: 0,
        mtime: e.mtime,
        size: 0,
      });
    }
    out.push(e);
  }
  return out;
}

async function isArchive(file: string): Promise<boolean> {
  const fh = await fs.open(file, 'r');
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, 512, 0);
    const b = buf.subarray(0, bytesRead);
    if (b[0] === 0x1f && b[1] === 0x8b) return true;
    if (b.subarray(0, 3).toString('latin1') === 'BZh') return true;
    if (b[0] === 0xfd && b.subarray(1, 6).toString('latin1') === '7zXZ\u0000') return true;
    return bytesRead >= 262 && b.subarray(257, 262).toString('latin1') === 'ustar';
  } finally {
    await fh.close();
  }
}

/** The name a download is saved as. */
function downloadName(url: string): string {
  return posix.basename(new URL(url).pathname) || 'index.html';
}

async function download(url: string): Promise<{ data: Buffer; mtime: Date }> {
  const res = await fetch(url);
  if (!res.ok)
    throw new InvalidArgumentError(
      `failed to GET ${url} with status ${res.status} ${res.statusText}`,
    );
  const data = Buffer.from(await res.arrayBuffer());
  const lm = res.headers.get('last-modified');
  const mtime = lm ? new Date(lm) : new Date();
  return { data, mtime: Number.isNaN(mtime.getTime()) ? new Date() : mtime };
}

async function fileFromTar(tarStream: Readable): Promise<string> {
  const { default: tar } = await import('tar-stream');
  const ex = tar.extract();
  tarStream.pipe(ex);
  let text = '';
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    if (text === '') text = Buffer.concat(chunks).toString('utf8');
  }
  return text;
}

/** Makes the build service; cleans scratch space a crash left. */
export async function newBuildService(options: NewBuildServiceOptions): Promise<BuildService> {
  const b = new Builder(options);
  await b.open();
  return b;
}
