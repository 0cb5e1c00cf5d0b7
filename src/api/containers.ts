import type { CreateContainerRequest } from '../spec/engine.js';
import type { PathStat } from '../containers/containers.js';
import type { UpdateRequest } from '../containers/update.js';
import { InvalidArgumentError, NotFoundError } from '../errors/index.js';
import type { Router } from './router.js';
import type { Services } from './server.js';
import type { Exchange } from './exchange.js';
import { jsonBody, objectBody, qBool, qFilters, qInt, qString, qTime } from './params.js';
import { encodeFrame, pipeTo, pumpAttachment, rawStreamType, writeOut } from './streams.js';

type WaitCondition = 'not-running' | 'next-exit' | 'removed';

function stopOptions(ex: Exchange): { signal?: string; timeout?: number } {
  const out: { signal?: string; timeout?: number } = {};
  const t = qInt(ex, 't');
  if (t !== undefined) out.timeout = t;
  const signal = qString(ex, 'signal');
  if (signal !== undefined) out.signal = signal;
  return out;
}

function statHeader(stat: PathStat): string {
  return Buffer.from(JSON.stringify(stat)).toString('base64');
}

function waitCondition(ex: Exchange): WaitCondition {
  const c = qString(ex, 'condition') ?? 'not-running';
  if (c !== 'not-running' && c !== 'next-exit' && c !== 'removed') {
    throw new InvalidArgumentError(`invalid condition: "${c}"`);
  }
  return c;
}

export function containerRoutes(router: Router, services: Services): void {
  const c = services.containers;

  router.add('POST', '/containers/create', async (ex) => {
    const body = await objectBody(ex);
    const name = qString(ex, 'name');
    if (name !== undefined && !/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) {
      throw new InvalidArgumentError(
        `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
      );
    }
    const result = await c.create(body as CreateContainerRequest, name?.replace(/^\//, ''));
    ex.json(201, result);
  });

  router.add('GET', '/containers/json', async (ex) => {
    const limit = qInt(ex, 'limit');
    const list = await c.list({
      all: qBool(ex, 'all'),
      size: qBool(ex, 'size'),
      filters: qFilters(ex),
      ...(limit !== undefined && limit > 0 ? { limit } : {}),
    });
    ex.json(200, list);
  });

  router.add('POST', '/containers/prune', async (ex) => {
    ex.json(200, await c.prune(qFilters(ex)));
  });

  router.add('GET', '/containers/{id}/json', async (ex) => {
    ex.json(200, await c.inspect(ex.params.id as string, { size: qBool(ex, 'size') }));
  });

  router.add('POST', '/containers/{id}/start', async (ex) => {
    await c.start(ex.params.id as string);
    ex.empty(204);
  });

  router.add('POST', '/containers/{id}/stop', async (ex) => {
    await c.stop(ex.params.id as string, stopOptions(ex));
    ex.empty(204);
  });

  router.add('POST', '/containers/{id}/restart', async (ex) => {
    await c.restart(ex.params.id as string, stopOptions(ex));
    ex.empty(204);
  });

  router.add('POST', '/containers/{id}/kill', async (ex) => {
    const name = ex.params.id as string;
    await c.kill(name, qString(ex, 'signal')).catch((err: unknown) => {
      // dockerd's kill route names the container in front of a lookup failure.
      if (err instanceof NotFoundError)
        throw new NotFoundError(`cannot kill container: ${name}: ${err.message}`, { cause: err });
      throw err;
    });
    ex.empty(204);
  });

  router.add('POST', '/containers/{id}/wait', async (ex) => {
    const ref = ex.params.id as string;
    const condition = waitCondition(ex);
    await c.get(ref);
    const ac = new AbortController();
    ex.signal.addEventListener('abort', () => ac.abort());
    const waiting = c.wait(ref, condition, ac.signal);
    // An early failure (the container vanished) still gets a proper status.
    const early = await Promise.race([
      waiting.then(
        (v) => ({ ok: true as const, v }),
        (e: unknown) => ({ ok: false as const, e }),
      ),
      new Promise<undefined>((resolve) => setImmediate(() => resolve(undefined))),
    ]);
    if (early && !early.ok) throw early.e;
    // The client (docker run) starts the container once these headers arrive.
    ex.stream(200, { 'Content-Type': 'application/json' });
    try {
      const result = early ? early.v : await waiting;
      ex.write(JSON.stringify(result) + '\n');
    } catch (err: unknown) {
      const message = err instanceof Error ? err.message : String(err);
      ex.write(JSON.stringify({ StatusCode: -1, Error: { Message: message } }) + '\n');
    }
    ex.end();
  });

  router.add('DELETE', '/containers/{id}', async (ex) => {
    await c.remove(ex.params.id as string, {
      force: qBool(ex, 'force'),
      volumes: qBool(ex, 'v'),
      link: qBool(ex, 'link'),
    });
    ex.empty(204);
  });

  router.add('POST', '/containers/{id}/rename', async (ex) => {
    const name = qString(ex, 'name');
    if (name === undefined)
      throw new InvalidArgumentError('Neither old nor new names may be empty');
    await c.rename(ex.params.id as string, name.replace(/^\//, ''));
    ex.empty(204);
  });

  router.add('POST', '/containers/{id}/pause', async (ex) => {
    await c.pause(ex.params.id as string);
    ex.empty(204);
  });

  router.add('POST', '/containers/{id}/unpause', async (ex) => {
    await c.unpause(ex.params.id as string);
    ex.empty(204);
  });

  router.add('GET', '/containers/{id}/top', async (ex) => {
    ex.json(200, await c.top(ex.params.id as string, qString(ex, 'ps_args')));
  });

  router.add('GET', '/containers/{id}/stats', async (ex) => {
    const stream = qBool(ex, 'stream', true);
    const oneShot = qBool(ex, 'one-shot');
    if (stream && oneShot) {
      throw new InvalidArgumentError('cannot have stream=true and one-shot=true');
    }
    const ac = new AbortController();
    ex.signal.addEventListener('abort', () => ac.abort());
    const objects = await c.stats(ex.params.id as string, { stream, oneShot, signal: ac.signal });
    ex.stream(200, { 'Content-Type': 'application/json' });
    try {
      for await (const o of objects) {
        if (ex.signal.aborted) break;
        await writeOut(ex, JSON.stringify(o) + '\n');
      }
    } finally {
      ac.abort();
    }
    ex.end();
  });

  router.add('POST', '/containers/{id}/update', async (ex) => {
    const body = await objectBody(ex);
    ex.json(200, await c.update(ex.params.id as string, body as UpdateRequest));
  });

  router.add('GET', '/containers/{id}/changes', async (ex) => {
    ex.json(200, await c.changes(ex.params.id as string));
  });

  router.add('GET', '/containers/{id}/logs', async (ex) => {
    const stdout = qBool(ex, 'stdout');
    const stderr = qBool(ex, 'stderr');
    if (!stdout && !stderr) {
      throw new InvalidArgumentError('Bad parameters: you must choose at least one stream');
    }
    const tailRaw = qString(ex, 'tail');
    let tail: number | 'all' = 'all';
    if (tailRaw !== undefined && tailRaw !== 'all') {
      const n = Number(tailRaw);
      tail = Number.isInteger(n) && n >= 0 ? n : 'all';
    }
    const timestamps = qBool(ex, 'timestamps');
    const since = qTime(ex, 'since');
    const until = qTime(ex, 'until');
    const ac = new AbortController();
    ex.signal.addEventListener('abort', () => ac.abort());
    const { tty, chunks } = await c.logs(ex.params.id as string, {
      follow: qBool(ex, 'follow'),
      stdout,
      stderr,
      timestamps,
      tail,
      signal: ac.signal,
      ...(since !== undefined && since > 0 ? { since } : {}),
      ...(until !== undefined && until > 0 ? { until } : {}),
    });
    ex.stream(200, { 'Content-Type': rawStreamType(tty, ex.version) });
    for await (const chunk of chunks) {
      if (ex.signal.aborted) break;
      if (chunk.stream === 'stdout' && !stdout) continue;
      if (chunk.stream === 'stderr' && !stderr) continue;
      const data = timestamps
        ? Buffer.concat([Buffer.from(`${chunk.time} `), chunk.data])
        : chunk.data;
      await writeOut(ex, tty ? data : encodeFrame(chunk.stream, data));
    }
    ex.end();
  });

  router.add('POST', '/containers/{id}/attach', async (ex) => {
    const stdout = qBool(ex, 'stdout');
    const stderr = qBool(ex, 'stderr');
    const detachKeys = qString(ex, 'detachKeys');
    const att = await c.attach(ex.params.id as string, {
      stdin: qBool(ex, 'stdin'),
      stdout,
      stderr,
      logs: qBool(ex, 'logs'),
      stream: qBool(ex, 'stream'),
      ...(detachKeys !== undefined ? { detachKeys } : {}),
    });
    const socket = ex.hijack(rawStreamType(att.tty, ex.version));
    await pumpAttachment(socket, att, { stdout, stderr });
  });

  router.add('POST', '/containers/{id}/resize', async (ex) => {
    const h = qInt(ex, 'h') ?? 0;
    const w = qInt(ex, 'w') ?? 0;
    if (h < 0 || w < 0) throw new InvalidArgumentError('invalid resize: negative size');
    await c.resize(ex.params.id as string, h, w);
    ex.empty(200, { 'Content-Type': 'text/plain; charset=utf-8' });
  });

  router.add('GET', '/containers/{id}/export', async (ex) => {
    const tar = await c.export(ex.params.id as string);
    ex.stream(200, { 'Content-Type': 'application/x-tar' });
    await pipeTo(ex, tar);
  });

  const archivePath = (ex: Exchange): string => {
    const path = qString(ex, 'path');
    if (path === undefined) throw new InvalidArgumentError('not a valid path: path is required');
    return path;
  };

  router.add('HEAD', '/containers/{id}/archive', async (ex) => {
    const stat = await c.statPath(ex.params.id as string, archivePath(ex));
    ex.empty(200, { 'X-Docker-Container-Path-Stat': statHeader(stat) });
  });

  router.add('GET', '/containers/{id}/archive', async (ex) => {
    const { stat, tar } = await c.getArchive(ex.params.id as string, archivePath(ex));
    ex.stream(200, {
      'Content-Type': 'application/x-tar',
      'X-Docker-Container-Path-Stat': statHeader(stat),
    });
    await pipeTo(ex, tar);
  });

  router.add('PUT', '/containers/{id}/archive', async (ex) => {
    await c.putArchive(ex.params.id as string, archivePath(ex), ex.bodyStream(), {
      noOverwriteDirNonDir: qBool(ex, 'noOverwriteDirNonDir'),
      copyUIDGID: qBool(ex, 'copyUIDGID'),
    });
    ex.empty(200);
  });

  router.add('POST', '/commit', async (ex) => {
    const container = qString(ex, 'container');
    if (container === undefined) throw new InvalidArgumentError('No container specified');
    const config = await jsonBody<Record<string, unknown> | null>(ex, null);
    const repo = qString(ex, 'repo');
    const tag = qString(ex, 'tag');
    const comment = qString(ex, 'comment');
    const author = qString(ex, 'author');
    const changes = ex.query
      .getAll('changes')
      .flatMap((s) => s.split('\n'))
      .filter((s) => s.trim() !== '');
    const id = await c.commit(container, {
      pause: qBool(ex, 'pause', true),
      ...(repo !== undefined ? { reference: tag !== undefined ? `${repo}:${tag}` : repo } : {}),
      ...(comment !== undefined ? { comment } : {}),
      ...(author !== undefined ? { author } : {}),
      ...(changes.length > 0 ? { changes } : {}),
      ...(config !== null && typeof config === 'object' ? { config } : {}),
    });
    ex.json(201, { Id: id });
  });
}
