import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { BadRequestError, ClientConfigError, ConflictError, EngineUnavailableError, NotFoundError } from '../app/errors.js';
import type { ClientManager } from '../app/client-manager.js';
import { ConfigFileError } from '../clients/config-file/index.js';
import { PolicyCheckError } from '../app/authz-manager.js';
import { InvalidNameError } from '../app/names.js';
import type { ServerManager } from '../app/server-manager.js';
import type { LogSink } from '../logs/index.js';
import { isAllowedHost } from '../proxy/index.js';
import { EngineNotFoundError, ImageUnavailableError } from '../runtime/index.js';
import { InvalidSecretNameError, KeychainUnavailableError, ReadOnlySecretsError, SecretNotFoundError, DataKeyError } from '../secrets/index.js';
import type { ServerRecord, Store } from '../store/index.js';
import type { SecretsProvider } from '../secrets/index.js';
import { assertValidSecretName } from '../secrets/index.js';
import {
  LogQuerySchema,
  PolicyAttachSchema,
  PolicyCheckSchema,
  PolicySaveSchema,
  PolicySimulateSchema,
  RunRequestSchema,
  SecretSetSchema,
  ClientRemoveSchema,
  RenameSchema,
  ClientSetupSchema, type ApiErrorCode, type CoreInfo, type SecretsInfo, type ServerDetail, type ServerView } from './contract.js';

export interface ApiDeps {
  token: string;
  manager: ServerManager;
  store: Store;
  logs: LogSink;
  clients: ClientManager;
  coreInfo: () => Promise<CoreInfo>;
  secrets: () => SecretsProvider;
  shutdown: () => void;
}

const MAX_API_BODY = 1024 * 1024;

function view(m: ServerManager, s: ServerRecord): ServerView {
  return {
    name: s.name,
    image: s.image,
    transport: s.transport,
    status: s.status,
    statusDetail: s.statusDetail,
    desiredState: s.desiredState,
    url: m.url(s),
    proxyPort: s.proxyPort,
    targetPort: s.targetPort,
    group: s.group,
    permissionProfile: s.permissionProfile,
    secrets: s.secrets,
    auth: s.auth,
    policySet: s.policySet,
    containerId: s.containerId,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}

function errorStatus(err: unknown): [number, ApiErrorCode] {
  if (err instanceof NotFoundError) return [404, 'not_found'];
  if (err instanceof ConflictError) return [409, 'conflict'];
  if (err instanceof BadRequestError || err instanceof InvalidNameError || err instanceof z.ZodError) return [400, 'bad_request'];
  if (err instanceof EngineNotFoundError || err instanceof EngineUnavailableError) return [503, 'engine_unavailable'];
  if (err instanceof ImageUnavailableError) return [422, 'image_unavailable'];
  if (err instanceof SecretNotFoundError) return [404, 'not_found'];
  if (err instanceof InvalidSecretNameError) return [400, 'bad_request'];
  if (err instanceof ReadOnlySecretsError) return [409, 'conflict'];
  if (err instanceof KeychainUnavailableError || err instanceof DataKeyError) return [503, 'keychain_unavailable'];
  if (err instanceof ClientConfigError || err instanceof ConfigFileError) return [409, 'client_config'];
  return [500, 'internal'];
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.startsWith('Bearer ') ? header.slice(7) : '');
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_API_BODY) throw new BadRequestError('Request body too large.');
    chunks.push(c);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BadRequestError('Request body is not valid JSON.');
  }
}

/** The control API: loopback only, bearer token on every call, JSON in and out. */
export class ApiServer {
  private readonly server: http.Server;

  constructor(private readonly deps: ApiDeps) {
    this.server = http.createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        const [status, code] = errorStatus(err);
        const message = err instanceof z.ZodError ? err.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') : (err as Error).message;
        // A refused policy set carries its problems (policy number, line, column) for the UI to point at.
        const details = err instanceof PolicyCheckError ? { check: err.check } : {};
        if (!res.headersSent) sendJson(res, status, { error: { code, message, ...details } });
        else res.end();
      });
    });
    this.server.requestTimeout = 0;
  }

  listen(port = 0, host = '127.0.0.1'): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const a = this.server.address() as AddressInfo;
        resolve(`http://${host}:${a.port}`);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!isAllowedHost(req.headers.host) || req.headers.origin !== undefined) {
      sendJson(res, 403, { error: { code: 'unauthorized', message: 'Forbidden.' } });
      return;
    }
    if (!tokenMatches(req.headers.authorization, this.deps.token)) {
      sendJson(res, 401, { error: { code: 'unauthorized', message: 'Missing or wrong API token (see the discovery file core.json).' } });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const { manager, store } = this.deps;
    const method = req.method ?? 'GET';

    if (parts[0] !== 'v1') throw new NotFoundError(`No API route ${url.pathname}.`);
    const [, resource, name, action] = parts;

    if (resource === 'core' && method === 'GET') return sendJson(res, 200, await this.deps.coreInfo());
    if (resource === 'shutdown' && method === 'POST') {
      sendJson(res, 200, { ok: true });
      setImmediate(() => this.deps.shutdown());
      return;
    }
    if (resource === 'servers') {
      if (name === undefined) {
        if (method === 'GET') return sendJson(res, 200, manager.list().map((s) => view(manager, s)));
        if (method === 'POST') {
          const body = RunRequestSchema.parse(await readJson(req));
          return sendJson(res, 201, view(manager, await manager.run(body)));
        }
      } else if (action === undefined) {
        if (method === 'GET') {
          const s = manager.get(name);
          const detail: ServerDetail = {
            ...view(manager, s),
            health: manager.health(name),
            history: store.statusHistory.forServer(name).map(({ status, detail, exitCode, at }) => ({ status, detail, exitCode, at })),
          };
          return sendJson(res, 200, detail);
        }
        if (method === 'DELETE') {
          await manager.remove(name, url.searchParams.get('force') === 'true');
          return sendJson(res, 200, { removed: name });
        }
      } else if (action === 'policy' && method === 'PUT') {
        const body = PolicyAttachSchema.parse(await readJson(req));
        manager.get(name);
        manager.authz.attach(name, body.policySet);
        return sendJson(res, 200, view(manager, manager.get(name)));
      } else if (action === 'auth' && method === 'PUT') {
        const body = (await readJson(req)) as { auth?: unknown };
        return sendJson(res, 200, view(manager, manager.setAuth(name, body.auth)));
      } else if (method === 'POST') {
        if (action === 'start') return sendJson(res, 200, view(manager, await manager.start(name)));
        if (action === 'stop') return sendJson(res, 200, view(manager, await manager.stop(name)));
        if (action === 'restart') return sendJson(res, 200, view(manager, await manager.restart(name)));
        if (action === 'rename') return sendJson(res, 200, view(manager, await manager.rename(name, RenameSchema.parse(await readJson(req)).name)));
      }
    }
    if (resource === 'logs' && method === 'GET') return this.logs(url, req, res);
    if (resource === 'policies') return this.policies(method, name, action, url, req, res);
    if (resource === 'policy-check' && method === 'POST') {
      const body = PolicyCheckSchema.parse(await readJson(req));
      return sendJson(res, 200, manager.authz.check(body.config, body.server));
    }
    if (resource === 'policy-simulate' && method === 'POST') {
      const body = PolicySimulateSchema.parse(await readJson(req));
      const source = body.config !== undefined ? { config: body.config } : { set: body.set!, ...(body.version !== undefined ? { version: body.version } : {}) };
      return sendJson(res, 200, manager.authz.simulate(source, body.input));
    }
    if (resource === 'clients') {
      const clients = this.deps.clients;
      if (name === undefined && method === 'GET') return sendJson(res, 200, clients.list());
      if (name !== undefined && action === undefined && method === 'GET') return sendJson(res, 200, clients.status(name));
      if (name !== undefined && action === 'setup' && method === 'POST') {
        const body = ClientSetupSchema.parse(await readJson(req));
        return sendJson(res, 200, await clients.setup(name, body.group));
      }
      if (name !== undefined && action === 'remove' && method === 'POST') {
        const body = ClientRemoveSchema.parse(await readJson(req));
        return sendJson(res, 200, await clients.remove(name, body.group));
      }
    }
    if (resource === 'secrets') return this.secrets(method, name, url, req, res);
    if (resource === 'idps') {
      if (name === undefined && method === 'GET') return sendJson(res, 200, manager.auth.profiles());
      if (name !== undefined && method === 'GET') {
        const p = manager.auth.profiles().find((x) => x.name === name);
        if (!p) throw new NotFoundError(`No identity-provider profile named "${name}".`);
        return sendJson(res, 200, p);
      }
      if (name !== undefined && method === 'PUT') {
        manager.auth.putProfile(name, ((await readJson(req)) as { config?: unknown }).config);
        return sendJson(res, 200, manager.auth.profiles().find((x) => x.name === name));
      }
      if (name !== undefined && method === 'DELETE') {
        manager.auth.removeProfile(name);
        return sendJson(res, 200, { removed: name });
      }
    }
    throw new NotFoundError(`No API route ${method} ${url.pathname}.`);
  }

  private async policies(method: string, name: string | undefined, action: string | undefined, url: URL, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const authz = this.deps.manager.authz;
    if (name === undefined && method === 'GET') return sendJson(res, 200, authz.listSets());
    if (name !== undefined && action === 'history' && method === 'GET') return sendJson(res, 200, authz.history(name));
    if (name !== undefined && action === undefined) {
      if (method === 'GET') {
        const version = url.searchParams.get('version');
        return sendJson(res, 200, version ? authz.version(name, Number(version)) : authz.getSet(name));
      }
      if (method === 'PUT') {
        const body = PolicySaveSchema.parse(await readJson(req));
        return sendJson(res, 200, authz.save(name, body.config, body.note ?? null, { strict: body.strict === true }));
      }
      if (method === 'DELETE') {
        authz.delete(name);
        return sendJson(res, 200, { removed: name });
      }
    }
    throw new NotFoundError(`No API route ${method} ${url.pathname}.`);
  }

  private async secrets(method: string, name: string | undefined, url: URL, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const provider = this.deps.secrets();
    const usage = new Map<string, { server: string; target: string }[]>();
    for (const s of this.deps.manager.list()) {
      for (const ref of s.secrets) usage.set(ref.name, [...(usage.get(ref.name) ?? []), { server: s.name, target: ref.target }]);
    }
    if (name === undefined && method === 'GET') {
      const names = await provider.list();
      const info: SecretsInfo = {
        provider: provider.kind,
        description: provider.description,
        writable: provider.writable,
        secrets: names.map((n) => ({ name: n, usedBy: usage.get(n) ?? [] })),
        missing: [...usage.entries()].filter(([n]) => !names.includes(n)).map(([n, usedBy]) => ({ name: n, usedBy })),
      };
      return sendJson(res, 200, info);
    }
    if (name !== undefined) {
      assertValidSecretName(name);
      if (method === 'PUT') {
        const { value } = SecretSetSchema.parse(await readJson(req));
        await provider.set(name, value);
        return sendJson(res, 200, { name, usedBy: usage.get(name) ?? [] });
      }
      if (method === 'DELETE') {
        const users = usage.get(name) ?? [];
        if (users.length > 0 && url.searchParams.get('force') !== 'true') {
          throw new ConflictError(`Secret "${name}" is used by ${users.map((u) => u.server).join(', ')}; those servers would not start without it. Use --force to remove it anyway.`);
        }
        if (!(await provider.delete(name))) throw new NotFoundError(`No secret named "${name}".`);
        return sendJson(res, 200, { removed: name });
      }
    }
    throw new NotFoundError(`No API route ${method} ${url.pathname}.`);
  }

  private logs(url: URL, req: http.IncomingMessage, res: http.ServerResponse): void {
    const q = LogQuerySchema.parse({
      server: url.searchParams.get('server') ?? undefined,
      source: url.searchParams.getAll('source').length ? url.searchParams.getAll('source') : undefined,
      search: url.searchParams.get('search') ?? undefined,
      limit: url.searchParams.get('limit') ?? undefined,
      afterId: url.searchParams.get('afterId') ?? undefined,
      follow: url.searchParams.get('follow') === 'true',
    });
    if (q.server !== undefined) this.deps.manager.get(q.server);
    this.deps.logs.flush();
    const query = { server: q.server, sources: q.source, search: q.search, limit: q.limit, afterId: q.afterId };
    if (!q.follow) return sendJson(res, 200, this.deps.store.logs.query(query));
    // Follow: backlog first, then live lines as newline-delimited JSON until the client leaves.
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    let lastId = q.afterId ?? 0;
    for (const e of this.deps.store.logs.query({ ...query, limit: q.limit ?? 100 })) {
      res.write(JSON.stringify(e) + '\n');
      lastId = e.id;
    }
    const unsubscribe = this.deps.logs.follow((e) => {
      if (e.id <= lastId) return;
      if (q.server !== undefined && e.server !== q.server) return;
      if (q.source && !q.source.includes(e.source)) return;
      res.write(JSON.stringify(e) + '\n');
    });
    const keepAlive = setInterval(() => res.write('\n'), 15_000);
    req.on('close', () => {
      unsubscribe();
      clearInterval(keepAlive);
    });
  }
}
