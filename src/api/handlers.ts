import type { z } from 'zod';
import { ConflictError, ForbiddenError, NotFoundError } from '../app/errors.js';
import { parseIdpProfileDocument } from '../auth/index.js';
import type { ClientManager } from '../app/client-manager.js';
import type { ServerManager } from '../app/server-manager.js';
import type { SignIns } from '../app/sign-ins.js';
import type { AuthServerManager } from '../app/auth-server-manager.js';
import { tokenExchangeViewOf, type TokenExchangeManager } from '../app/token-exchange-manager.js';
import type { LogSink } from '../logs/index.js';
import { assertValidSecretName, type SecretsProvider } from '../secrets/index.js';
import type { ServerRecord, Store } from '../store/index.js';
import { SimulationInputSchema, type CoreInfo, type PolicyCaseView, type ServerDetail, type ServerView } from './contract.js';
import type { PolicyCaseRecord } from '../store/index.js';

/** A stored case as the API gives it (its input read back through the simulator's schema). */
function caseView(c: PolicyCaseRecord): PolicyCaseView {
  return { id: c.id, set: c.set, label: c.label, input: SimulationInputSchema.parse(c.input), expect: c.expect, createdAt: c.createdAt };
}
import type { RouteName, Routes } from './routes.js';

export interface ApiDeps {
  token: string;
  manager: ServerManager;
  store: Store;
  logs: LogSink;
  clients: ClientManager;
  coreInfo: () => Promise<CoreInfo>;
  secrets: () => SecretsProvider;
  signIns: SignIns;
  authServer: AuthServerManager;
  tokenExchange: TokenExchangeManager;
  shutdown: () => void;
}

/** What a handler gets besides its input: the way to make a one-time app login URL. */
export interface HandlerContext {
  uiLoginUrl: () => string;
  /** Who calls: a holder of the core's token (the CLI, the bridge), or the app's window (a session or IPC). */
  caller: 'token' | 'app';
}

/** One function per route: validated input in, a value of the route's output schema out. */
export type Handlers = {
  [K in RouteName]: (input: z.output<Routes[K]['input']>, ctx: HandlerContext) => Promise<z.input<Routes[K]['output']>> | z.input<Routes[K]['output']>;
};

export function serverView(m: ServerManager, s: ServerRecord): ServerView {
  return {
    name: s.name,
    kind: m.isRemote(s) ? 'remote' : 'container',
    image: s.image,
    remoteUrl: m.isRemote(s) ? s.url : null,
    remote: m.isRemote(s) ? (s.remote ?? null) : null,
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
    tokenExchange: tokenExchangeViewOf(s.tokenExchange),
    containerId: s.containerId,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}

export function createHandlers(deps: ApiDeps): Handlers {
  const { manager, store, clients } = deps;
  const view = (s: ServerRecord) => serverView(manager, s);
  const secretUsage = () => {
    const usage = new Map<string, { server: string; target: string }[]>();
    for (const s of manager.list()) {
      for (const ref of s.secrets) usage.set(ref.name, [...(usage.get(ref.name) ?? []), { server: s.name, target: ref.target }]);
    }
    return usage;
  };
  const profile = (name: string) => {
    const p = manager.auth.profiles().find((x) => x.name === name);
    if (!p) throw new NotFoundError(`No identity-provider profile named "${name}".`);
    return p;
  };
  const settingsView = () => {
    const r = deps.logs.retention;
    return { logRetention: { maxLines: r.maxRows, maxDays: Math.max(1, Math.round(r.maxAgeMs / 86_400_000)) } };
  };
  return {
    core: () => deps.coreInfo(),
    shutdown: () => {
      setImmediate(() => deps.shutdown());
      return { ok: true };
    },

    listServers: () => manager.list().map(view),
    run: async (body) => view(await manager.run(body)),
    getServer: ({ name }) => {
      const detail: ServerDetail = {
        ...view(manager.get(name)),
        health: manager.health(name),
        history: store.statusHistory.forServer(name).map(({ status, detail, exitCode, at }) => ({ status, detail, exitCode, at })),
        clients: store.clientEntries.clientsOf(name),
      };
      return detail;
    },
    remove: async ({ name, force }) => {
      await manager.remove(name, force === true);
      return { removed: name };
    },
    start: async ({ name }) => view(await manager.start(name)),
    stop: async ({ name }) => view(await manager.stop(name)),
    restart: async ({ name }) => view(await manager.restart(name)),
    rename: async ({ name, newName }) => view(await manager.rename(name, newName)),
    setAuth: async ({ name, auth }) => view(await manager.setAuth(name, auth)),
    tokenExchange: ({ name }) => deps.tokenExchange.view(name),
    setTokenExchange: ({ name, settings }) => deps.tokenExchange.set(name, settings),
    removeTokenExchange: async ({ name }) => {
      await deps.tokenExchange.remove(name);
      return { ok: true as const };
    },
    attachPolicy: ({ name, policySet }) => {
      manager.get(name);
      manager.authz.attach(name, policySet);
      return view(manager.get(name));
    },

    signInStatus: ({ name }) => deps.signIns.view(name),
    signInStart: ({ name }) => deps.signIns.start(name),
    signInWait: ({ name }) => deps.signIns.wait(name),
    signInCancel: ({ name }) => {
      deps.signIns.cancel(name);
      return { ok: true };
    },
    signOut: ({ name }) => deps.signIns.signOut(name),
    authServer: () => deps.authServer.view(),
    setAuthServer: ({ settings, document, listenPort }) => (document !== undefined ? deps.authServer.configureFromText(document, listenPort) : deps.authServer.configure(settings, listenPort)),
    removeAuthServer: () => deps.authServer.remove(),
    rotateAuthServerKey: () => deps.authServer.rotateKey(),
    authServerClients: () => deps.authServer.clients(),
    revokeAuthServerClient: ({ id }) => deps.authServer.revokeClient(id),
    authServerUsers: () => deps.authServer.users(),
    revokeAuthServerUser: ({ subject }) => deps.authServer.revokeUser(subject),
    authServerTest: () => deps.authServer.testView(),
    startAuthServerTest: () => deps.authServer.startTest(),
    waitAuthServerTest: () => deps.authServer.waitTest(),
    cancelAuthServerTest: () => {
      deps.authServer.cancelTest();
      return { ok: true };
    },
    callerToken: ({ name, refused }, ctx) => {
      // Tokens go to the bridge only, never into the app's window (whatever runs there).
      if (ctx.caller !== 'token') throw new ForbiddenError('Caller tokens are given to the core\'s own command-line clients only.');
      return deps.signIns.callerToken(name, refused === true);
    },

    logs: (q) => {
      if (q.server !== undefined) manager.get(q.server);
      deps.logs.flush();
      return store.logs.query(q);
    },
    logHistogram: ({ buckets, ...q }) => {
      if (q.server !== undefined) manager.get(q.server);
      deps.logs.flush();
      return store.logs.histogram(q, buckets);
    },

    settings: () => settingsView(),
    putSettings: (next) => {
      if (next.logRetention) {
        store.settings.set('logRetention', next.logRetention);
        deps.logs.setRetention({ maxRows: next.logRetention.maxLines, maxAgeMs: next.logRetention.maxDays * 86_400_000 });
      }
      return settingsView();
    },

    policies: () => manager.authz.listSets(),
    policy: ({ name, version }) => (version !== undefined ? manager.authz.version(name, version) : manager.authz.getSet(name)),
    policyHistory: ({ name }) => manager.authz.history(name),
    savePolicy: ({ name, config, note, strict, acceptBrokenCases, source }) => manager.authz.save(name, config, note ?? null, { strict: strict === true, acceptBrokenCases: acceptBrokenCases === true, ...(source ? { source } : {}) }),
    recentCallers: ({ servers }) => manager.authz.recentCallers(servers),
    policyWhoCan: ({ config, input }) => manager.authz.whoCan(config, input),
    policyImpact: ({ name, config, minutes }) => manager.authz.impact(name, config, minutes),
    decision: ({ server, auditId }) => manager.authz.decisionOf(server, auditId),
    parsePolicyDocument: ({ text, fileName }) => ({ config: manager.authz.parseDocument(text, fileName) }),
    exportPolicy: ({ name, version, format }) => manager.authz.exportFile(name, version, format),
    policyCases: ({ name }) => manager.authz.cases(name).map(caseView),
    addPolicyCase: ({ name, label, input, expect }) => caseView(manager.authz.addCase(name, label, input, expect)),
    removePolicyCase: ({ name, id }) => {
      manager.authz.removeCase(name, id);
      return { removed: String(id) };
    },
    runPolicyCases: ({ name, config }) => manager.authz.runCases(name, config === undefined ? undefined : { config }),
    removePolicy: ({ name }) => {
      manager.authz.delete(name);
      return { removed: name };
    },
    checkPolicy: ({ config, server, servers }) => manager.authz.check(config, [...(server !== undefined ? [server] : []), ...(servers ?? [])]),
    formatPolicy: ({ config }) => ({ config: manager.authz.format(config) }),
    policyVocabulary: ({ servers }) => ({ servers: manager.authz.vocabulary(servers) }),
    simulatePolicy: (body) => {
      const source = body.config !== undefined ? { config: body.config } : { set: body.set!, ...(body.version !== undefined ? { version: body.version } : {}) };
      return manager.authz.simulate(source, body.input);
    },

    clients: () => clients.list(),
    client: ({ id }) => clients.status(id),
    setupClient: ({ id, group }) => clients.setup(id, group),
    removeClient: ({ id, group }) => clients.remove(id, group),
    previewClient: ({ id, op, group }) => clients.preview(id, op, group),

    secrets: async () => {
      const provider = deps.secrets();
      const usage = secretUsage();
      const names = await provider.list();
      return {
        provider: provider.kind,
        description: provider.description,
        writable: provider.writable,
        secrets: names.map((n) => ({ name: n, usedBy: usage.get(n) ?? [] })),
        missing: [...usage.entries()].filter(([n]) => !names.includes(n)).map(([n, usedBy]) => ({ name: n, usedBy })),
      };
    },
    setSecret: async ({ name, value }) => {
      assertValidSecretName(name);
      await deps.secrets().set(name, value);
      return { name, usedBy: secretUsage().get(name) ?? [] };
    },
    removeSecret: async ({ name, force }) => {
      assertValidSecretName(name);
      const users = secretUsage().get(name) ?? [];
      if (users.length > 0 && force !== true) {
        throw new ConflictError(`Secret "${name}" is used by ${users.map((u) => u.server).join(', ')}; those servers would not start without it.`, { action: 'force' });
      }
      if (!(await deps.secrets().delete(name))) throw new NotFoundError(`No secret named "${name}".`);
      return { removed: name };
    },

    idps: () => manager.auth.profiles(),
    idp: ({ name }) => profile(name),
    putIdp: ({ name, config, document, key }) => {
      manager.auth.putProfile(name, document !== undefined ? parseIdpProfileDocument(document, 'the profile', key) : config);
      return profile(name);
    },
    removeIdp: ({ name }) => {
      manager.auth.removeProfile(name);
      return { removed: name };
    },

    uiLoginCode: (_input, ctx) => ({ url: ctx.uiLoginUrl() }),
  };
}
