import type { ExecCreateRequest } from '../containers/containers.js';
import { InvalidArgumentError } from '../errors/index.js';
import type { Router } from './router.js';
import type { Services } from './server.js';
import { objectBody, qInt } from './params.js';
import { encodeFrame, pumpAttachment, rawStreamType } from './streams.js';

export function execRoutes(router: Router, services: Services): void {
  const c = services.containers;

  router.add('POST', '/containers/{id}/exec', async (ex) => {
    const body = await objectBody(ex);
    const cmd = body.Cmd;
    if (!Array.isArray(cmd) || cmd.length === 0 || !cmd.every((s) => typeof s === 'string')) {
      throw new InvalidArgumentError('No exec command specified');
    }
    ex.json(201, await c.execCreate(ex.params.id as string, body as unknown as ExecCreateRequest));
  });

  router.add('POST', '/exec/{id}/start', async (ex) => {
    const body = await objectBody(ex);
    const detach = body.Detach === true;
    const tty = typeof body.Tty === 'boolean' ? body.Tty : undefined;
    const consoleSize = Array.isArray(body.ConsoleSize)
      ? (body.ConsoleSize as [number, number])
      : undefined;
    const execId = ex.params.id as string;
    // A command that cannot start is told on the stream, as dockerd does (the client then
    // reads the exit code, 126); a missing exec or container stays an HTTP error.
    let att: Awaited<ReturnType<typeof c.execStart>>;
    try {
      att = await c.execStart(execId, {
        detach,
        ...(tty !== undefined ? { tty } : {}),
        ...(consoleSize !== undefined ? { consoleSize } : {}),
      });
    } catch (err: unknown) {
      if (detach || !(err instanceof InvalidArgumentError)) throw err;
      const socket = ex.hijack(rawStreamType(tty ?? false, ex.version));
      const line = Buffer.from(`${err.message}\r\n`);
      socket.end(tty ? line : encodeFrame('stdout', line));
      return;
    }
    if (detach || !att) {
      ex.empty(200);
      return;
    }
    const socket = ex.hijack(rawStreamType(att.tty, ex.version));
    await pumpAttachment(socket, att, { stdout: true, stderr: true });
  });

  router.add('POST', '/exec/{id}/resize', async (ex) => {
    const h = qInt(ex, 'h') ?? 0;
    const w = qInt(ex, 'w') ?? 0;
    if (h < 0 || w < 0) throw new InvalidArgumentError('invalid resize: negative size');
    await c.execResize(ex.params.id as string, h, w);
    ex.empty(200, { 'Content-Type': 'text/plain; charset=utf-8' });
  });

  router.add('GET', '/exec/{id}/json', async (ex) => {
    ex.json(200, await c.execInspect(ex.params.id as string));
  });
}
