import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import {
  ClientError,
  type ContainerSummary,
  type EngineClient,
  type RequestOptions,
} from '../client/client.js';
import { normalizeProjectName } from './loader.js';
import { loadProject } from './loader.js';
import type { Project } from './model.js';
import { newProgress } from './progress.js';
import { down, up, type Session } from './reconcile.js';

interface FakeContainer {
  Id: string;
  Name: string;
  Labels: Record<string, string>;
  State: string;
  body: Record<string, unknown>;
}

/**
 * An in-memory engine with just what the reconciler calls, recording each call, so that
 * what `up` and `down` decide is tested without an engine.
 */
function fakeEngine(): {
  client: EngineClient;
  calls: string[];
  containers: Map<string, FakeContainer>;
  networks: Map<string, Record<string, unknown>>;
  volumes: Map<string, Record<string, unknown>>;
} {
  const containers = new Map<string, FakeContainer>();
  const networks = new Map<string, Record<string, unknown>>();
  const volumes = new Map<string, Record<string, unknown>>();
  const calls: string[] = [];
  let seq = 0;
  const notFound = (what: string): ClientError => new ClientError(`No such ${what}`, 404);
  const find = (ref: string): FakeContainer => {
    const c = containers.get(ref) ?? [...containers.values()].find((x) => x.Name === ref);
    if (!c) throw notFound(`container: ${ref}`);
    return c;
  };
  const summary = (c: FakeContainer): ContainerSummary => ({
    Id: c.Id,
    Names: [`/${c.Name}`],
    Image: String(c.body.Image),
    ImageID: 'sha256:img',
    Command: '',
    Created: 0,
    State: c.State,
    Status: c.State,
    Ports: [],
    Labels: c.Labels,
  });
  const client = {
    host: 'fake',
    async containerList(
      o: { filters?: Record<string, string[]> } = {},
    ): Promise<ContainerSummary[]> {
      const labels = o.filters?.label ?? [];
      const ids = o.filters?.id;
      return [...containers.values()]
        .filter((c) =>
          labels.every((l) => {
            const [k, v] = l.split('=');
            return v === undefined ? k! in c.Labels : c.Labels[k!] === v;
          }),
        )
        .filter((c) => !ids || ids.includes(c.Id))
        .map(summary);
    },
    async containerInspect(id: string): Promise<Record<string, unknown>> {
      const c = find(id);
      return {
        Id: c.Id,
        Name: `/${c.Name}`,
        State: {
          Status: c.State,
          Running: c.State === 'running',
          ExitCode: 0,
          Health: { Status: 'healthy' },
        },
        Config: { Labels: c.Labels },
        Mounts: [],
      };
    },
    async containerStart(id: string): Promise<void> {
      calls.push(`start ${find(id).Name}`);
      find(id).State = 'running';
    },
    async containerStop(id: string): Promise<void> {
      calls.push(`stop ${find(id).Name}`);
      find(id).State = 'exited';
    },
    async containerRemove(id: string): Promise<void> {
      calls.push(`rm ${find(id).Name}`);
      containers.delete(find(id).Id);
    },
    async containerWait(): Promise<{ result: Promise<{ StatusCode: number }> }> {
      return { result: Promise.resolve({ StatusCode: 0 }) };
    },
    async imageInspect(name: string): Promise<Record<string, unknown>> {
      if (name.startsWith('busybox')) return { Id: 'sha256:img' };
      throw notFound(`image: ${name}`);
    },
    async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
      const body = (options.body ?? {}) as Record<string, unknown>;
      if (method === 'POST' && path === '/containers/create') {
        const name = String(options.query?.name);
        if ([...containers.values()].some((c) => c.Name === name))
          throw new ClientError('Conflict', 409);
        const Id = `id${++seq}`;
        containers.set(Id, {
          Id,
          Name: name,
          Labels: body.Labels as Record<string, string>,
          State: 'created',
          body,
        });
        calls.push(`create ${name}`);
        return { Id, Warnings: [] } as T;
      }
      const m = /^\/(networks|volumes)\/([^/]+)$/.exec(path);
      const store = path.startsWith('/networks') ? networks : volumes;
      if (method === 'GET' && m) {
        const found = store.get(decodeURIComponent(m[2] as string));
        if (!found) throw notFound(m[1] as string);
        return found as T;
      }
      if (method === 'POST' && (path === '/networks/create' || path === '/volumes/create')) {
        store.set(String(body.Name), body);
        calls.push(`create ${path.split('/')[1]} ${String(body.Name)}`);
        return {} as T;
      }
      if (method === 'DELETE' && m) {
        store.delete(decodeURIComponent(m[2] as string));
        calls.push(`rm ${m[1]} ${decodeURIComponent(m[2] as string)}`);
        return undefined as T;
      }
      const restart = /^\/containers\/([^/]+)\/restart$/.exec(path);
      if (method === 'POST' && restart) {
        calls.push(`restart ${find(restart[1] as string).Name}`);
        return undefined as T;
      }
      if (method === 'POST' && /^\/networks\/[^/]+\/connect$/.test(path)) {
        calls.push(`connect ${path.split('/')[2]}`);
        return undefined as T;
      }
      throw new Error(`fake engine: ${method} ${path}`);
    },
  } as unknown as EngineClient;
  return { client, calls, containers, networks, volumes };
}

function session(client: EngineClient): Session & { log: () => string } {
  let text = '';
  const out = new Writable({
    write(c: Buffer, _e, cb): void {
      text += c.toString();
      cb();
    },
  });
  return { client, progress: newProgress(out), stderr: out, log: () => text };
}

function project(yaml: string, env: Record<string, string> = {}): Project {
  return loadProject({
    cwd: '/',
    files: ['-'],
    stdin: yaml,
    projectName: normalizeProjectName('demo'),
    env,
  });
}

const FILE = `
services:
  db:
    image: busybox
    volumes: [data:/data]
    networks: [back]
    healthcheck: {test: ["CMD", "true"]}
  web:
    image: busybox
    environment: {MSG: "\${MSG:-a}"}
    networks: [back, front]
    depends_on: {db: {condition: service_healthy, restart: true}}
  cache:
    image: busybox
    network_mode: none
networks: {back: {}, front: {}}
volumes: {data: {}}
`;

describe('reconciler against an in-memory engine', () => {
  it('creates resources, then containers in dependency order, and is idempotent', async () => {
    const e = fakeEngine();
    await up(session(e.client), project(FILE));
    assert.deepEqual(e.calls, [
      'create networks demo_back',
      'create networks demo_front',
      'create volumes demo_data',
      'create demo-cache-1',
      'start demo-cache-1',
      'create demo-db-1',
      'start demo-db-1',
      'create demo-web-1',
      'connect demo_front',
      'start demo-web-1',
    ]);
    assert.equal(
      (e.networks.get('demo_back')?.Labels as Record<string, string>)['com.docker.compose.network'],
      'back',
    );
    e.calls.length = 0;
    const s = session(e.client);
    await up(s, project(FILE));
    assert.deepEqual(e.calls, [], 'nothing changes when nothing changed');
    assert.match(s.log(), /Container demo-web-1 {2}Running/);
  });
  it('recreates only a changed service, restarting dependents that ask for it', async () => {
    const e = fakeEngine();
    await up(session(e.client), project(FILE));
    e.calls.length = 0;
    await up(session(e.client), project(FILE, { MSG: 'b' }));
    assert.deepEqual(e.calls, [
      'stop demo-web-1',
      'rm demo-web-1',
      'create demo-web-1',
      'connect demo_front',
      'start demo-web-1',
    ]);
    e.calls.length = 0;
    await up(
      session(e.client),
      project(FILE.replace('test: ["CMD", "true"]', 'test: ["CMD", "false"]'), { MSG: 'b' }),
    );
    assert.deepEqual(e.calls, [
      'stop demo-db-1',
      'rm demo-db-1',
      'create demo-db-1',
      'start demo-db-1',
      'restart demo-web-1',
    ]);
    e.calls.length = 0;
    await up(session(e.client), project(FILE, { MSG: 'b' }), { noRecreate: true });
    assert.deepEqual(e.calls, []);
    await up(session(e.client), project(FILE, { MSG: 'b' }), {
      forceRecreate: true,
      services: ['cache'],
    });
    assert.deepEqual(e.calls, [
      'stop demo-cache-1',
      'rm demo-cache-1',
      'create demo-cache-1',
      'start demo-cache-1',
    ]);
  });
  it('scales up and down by container number', async () => {
    const e = fakeEngine();
    await up(session(e.client), project(FILE), { services: ['cache'], scale: { cache: 3 } });
    assert.deepEqual([...e.containers.values()].map((c) => c.Name).sort(), [
      'demo-cache-1',
      'demo-cache-2',
      'demo-cache-3',
    ]);
    e.calls.length = 0;
    await up(session(e.client), project(FILE), { services: ['cache'], scale: { cache: 1 } });
    assert.deepEqual(e.calls, [
      'stop demo-cache-2',
      'rm demo-cache-2',
      'stop demo-cache-3',
      'rm demo-cache-3',
    ]);
  });
  it('warns about orphans and removes them when asked', async () => {
    const e = fakeEngine();
    await up(session(e.client), project(FILE));
    const smaller = project(
      FILE.replace(/ {2}cache:\n {4}image: busybox\n {4}network_mode: none\n/, ''),
    );
    const s = session(e.client);
    await up(s, smaller);
    assert.match(s.log(), /Found orphan containers \(\[demo-cache-1\]\) for this project/);
    e.calls.length = 0;
    await up(session(e.client), smaller, { removeOrphans: true });
    assert.deepEqual(e.calls, ['stop demo-cache-1', 'rm demo-cache-1']);
  });
  it('checks external networks and --scale services before creating anything', async () => {
    const e = fakeEngine();
    await assert.rejects(
      up(session(e.client), project(FILE), { scale: { nope: 2 } }),
      /no such service: nope/,
    );
    const p = project(
      'services: {a: {image: busybox, networks: [ext]}}\nnetworks: {ext: {external: true}}\n',
    );
    await assert.rejects(
      up(session(e.client), p),
      /network ext declared as external, but could not be found/,
    );
    assert.deepEqual(e.calls, []);
  });
  it('down removes dependents first, then networks, and volumes with -v', async () => {
    const e = fakeEngine();
    await up(session(e.client), project(FILE));
    e.calls.length = 0;
    await down(session(e.client), project(FILE), { volumes: true });
    assert.deepEqual(e.calls, [
      'stop demo-web-1',
      'rm demo-web-1',
      'stop demo-db-1',
      'rm demo-db-1',
      'stop demo-cache-1',
      'rm demo-cache-1',
      'rm networks demo_back',
      'rm networks demo_front',
      'rm volumes demo_data',
    ]);
  });
});
