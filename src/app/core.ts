import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiServer, createIpcApi } from '../api/index.js';
import type { CoreInfo, IpcApi } from '../api/index.js';
import { DEFAULT_RETENTION, LogSink } from '../logs/index.js';
import { LogRetentionSchema } from '../api/contract.js';
import { ContainerRuntime, connectEngine } from '../runtime/index.js';
import { OAuthTokenStore } from '../oauth/index.js';
import { openInBrowser } from '../common/index.js';
import { SignIns } from './sign-ins.js';
import { AuthServerManager } from './auth-server-manager.js';
import { TokenExchangeManager } from './token-exchange-manager.js';
import { OsKeychain, providerFromEnv, SealedStore, type Keychain, type SecretsProvider } from '../secrets/index.js';
import { appDataDir, appPaths, openStore, type AppPaths, type NetworkSetting, type RetentionPolicy, type Store } from '../store/index.js';
import { acquireCoreLock } from './core-lock.js';
import { writeDiscovery } from './discovery.js';
import { DecisionLog } from './decision-log.js';
import { ServerManager } from './server-manager.js';
import type { HealthCheckSettings } from './health-monitor.js';
import { ClientManager } from './client-manager.js';
import { currentUserEnvironment, nodeBridgeLauncher, type BridgeLauncher, type UserEnvironment } from '../clients/index.js';
import { VERSION } from './version.js';
import { AuditFileWriter, defaultAuditConfig, parseAuditConfig, type AuditConfig } from '../audit/index.js';

/** The audit config a user put beside the database (ToolHive's --audit-config format). A bad file stops the start. */
function readAuditConfig(file: string): AuditConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return defaultAuditConfig();
  }
  return parseAuditConfig(text, file);
}

export interface CoreOptions {
  home?: string;
  apiPort?: number;
  defaultNetwork?: NetworkSetting;
  requestTimeoutMs?: number;
  pullPolicy?: 'missing' | 'never';
  /** How to find the container engine (tests pass a probe with no engine to see the error users get). */
  connectEngine?: typeof connectEngine;
  /**
   * Opens the system browser for a sign-in (default: the OS opener, the URL as one argument). Electron
   * passes shell.openExternal; tests pass a real browser they drive.
   */
  openUrl?: (url: string) => Promise<void>;
  /** The keychain to use (default: the OS keychain through keytar). */
  keychain?: Keychain;
  /** Environment for the secrets provider choice (GATEHOUSE_SECRETS_PROVIDER, GATEHOUSE_SECRET_<NAME>). */
  secretsEnv?: NodeJS.ProcessEnv;
  /** Extra labels on every container (tests use them to clean up after themselves). */
  extraLabels?: Record<string, string>;
  /** Called after a shutdown requested through the API completed. */
  onShutdown?: () => void;
  /** ToolHive's audit config (default: GATEHOUSE_HOME/audit-config.json when it exists, else every event). */
  audit?: AuditConfig;
  /** Whose MCP client files `client setup` edits (default: the current user's home and OS). */
  clientUser?: UserEnvironment;
  /** How client entries start the stdio bridge (default: this Node binary and bin/gatehouse.js). */
  bridgeLauncher?: BridgeLauncher;
  /** The built app (default: dist-renderer/ beside src/ and dist/). */
  rendererDir?: string;
  /** Check every API response against its route's schema (tests). */
  checkApiResponses?: boolean;
  /** How running servers are checked for answers (default: every 30 s, unhealthy after 2 failures). */
  healthCheck?: HealthCheckSettings;
}

export interface Core {
  url: string;
  token: string;
  paths: AppPaths;
  store: Store;
  manager: ServerManager;
  secrets: SecretsProvider;
  sealed: SealedStore;
  clients: ClientManager;
  /** Where every log line goes (containers, proxies, the core); live followers see each as it is stored. */
  logs: LogSink;
  /** A one-time URL that signs a browser in to the app. */
  loginUrl(): string;
  /** The control API in process, by route and stream name (Electron's window and tray; no HTTP, no token). */
  ipc: IpcApi;
  /** Clean quit: stops containers (their servers come back at the next start) and releases everything. */
  stop(): Promise<void>;
}

/** Where `npm run build` puts the app: dist-renderer/ at the top of the package (from src/app or dist/app). */
export const DEFAULT_RENDERER_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist-renderer');

/** The composition root: one per user, shared by the CLI (`gatehouse serve`), Electron and tests. */
export async function startCore(opts: CoreOptions = {}): Promise<Core> {
  const paths = appPaths(opts.home ?? appDataDir());
  fs.mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const releaseLock = acquireCoreLock(paths.lock, paths.discovery);
  const cleanup: (() => unknown)[] = [releaseLock];
  try {
    const store = openStore(paths.database);
    cleanup.unshift(() => store.close());
    const logs = new LogSink(store.logs, { retention: retentionSetting(store) });
    cleanup.unshift(() => logs.close());
    logs.prune(); // retention also applies to what accumulated while Gatehouse was not running

    // The engine is connected lazily and re-connected after a failure, so a core without Docker still
    // answers (ls, logs, errors that say what to install) and picks the engine up once it appears.
    let runtimePromise: Promise<ContainerRuntime> | undefined;
    let stopEvents: (() => void) | undefined;
    let stopping = false;
    const runtime = (): Promise<ContainerRuntime> => {
      runtimePromise ??= (opts.connectEngine ?? connectEngine)().then(
        async ({ docker, endpoint, version }) => {
          const rt = new ContainerRuntime(docker, endpoint, version);
          await watch(rt);
          return rt;
        },
        (err: unknown) => {
          runtimePromise = undefined;
          throw err;
        },
      );
      return runtimePromise;
    };
    const watch = async (rt: ContainerRuntime) => {
      stopEvents = await rt.watchEvents(
        (e) => manager.onContainerEvent(e),
        () => {
          if (stopping) return;
          // The engine went away (restart, crash): reconnect, then make reality match the definitions.
          runtimePromise = undefined;
          void reconnect();
        },
      );
    };
    const reconnect = async () => {
      for (let delay = 1000; !stopping; delay = Math.min(delay * 2, 30_000)) {
        try {
          await runtime();
          await manager.reconcile();
          return;
        } catch {
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    };

    const keychain = opts.keychain ?? new OsKeychain();
    if (keychain instanceof OsKeychain) cleanup.unshift(() => keychain.close());
    const secrets = providerFromEnv(keychain, opts.secretsEnv ?? process.env);
    const sealed = new SealedStore(keychain, store.encrypted);
    const tokens = new OAuthTokenStore(keychain);

    const audit = opts.audit ?? readAuditConfig(path.join(paths.dir, 'audit-config.json'));
    let auditFile: AuditFileWriter | undefined;
    if (audit.logFile) {
      auditFile = new AuditFileWriter(audit.logFile, {
        onError: (err) => logs.write({ server: '-', source: 'core', level: 'error', message: `Audit log file ${audit.logFile}: ${err.message}`, fields: null }),
      });
      await auditFile.open();
      const file = auditFile;
      cleanup.unshift(() => void file.close());
    }

    const clientUser = opts.clientUser ?? currentUserEnvironment();
    const clients = new ClientManager(store, {
      user: clientUser,
      launcher: opts.bridgeLauncher ?? nodeBridgeLauncher(paths.dir, clientUser.platform),
      onWarning: (m) => logs.write({ server: '-', source: 'core', level: 'warn', message: m, fields: null }),
    });

    let authServer: AuthServerManager | undefined;
    let tokenExchange: TokenExchangeManager | undefined;
    const instanceId = createHash('sha256').update(paths.dir).digest('hex').slice(0, 16);
    const decisions = new DecisionLog(sealed, (server, message) => logs.write({ server, source: 'core', level: 'warn', message, fields: null }));
    const manager = new ServerManager(store, logs, runtime, {
      defaultNetwork: opts.defaultNetwork ?? networkFromEnv() ?? 'default',
      instanceId,
      requestTimeoutMs: opts.requestTimeoutMs ?? 60_000,
      startTimeoutMs: 30_000,
      ...(opts.healthCheck ? { healthCheck: opts.healthCheck } : {}),
      pullPolicy: opts.pullPolicy ?? (process.env['GATEHOUSE_PULL_POLICY'] === 'never' ? 'never' : 'missing'),
      extraLabels: opts.extraLabels,
      audit,
      auditFile,
      decisions,
      onServersChanged: () => clients.syncAll(),
      tokens,
      // Late-bound: the authorization server and token exchange are made after the manager (they read its auth settings).
      callerCredentials: (s) => tokenExchange?.credentialsFor(s),
      localIssuer: () => authServer?.frontedIssuer(),
      prepareTokenExchange: (s, input) => tokenExchange!.prepare(s, input),
      onServerRemoved: (s) => tokenExchange!.serverRemoved(s),
    }, () => secrets);

    manager.authz.useDecisions(decisions);
    const openUrl = opts.openUrl ?? ((url: string) => openInBrowser(url));
    const signIns = new SignIns({
      server: (name) => manager.get(name),
      callerTarget: (s) => manager.callerTarget(s),
      tokens,
      secrets: () => secrets,
      openUrl,
      log: (server, level, message) => logs.write({ server, source: 'core', level, message, fields: null }),
    });

    authServer = new AuthServerManager({
      store,
      keychain,
      sealed,
      secrets: () => secrets,
      auth: manager.auth,
      instanceId,
      openUrl,
      log: (level, message) => logs.write({ server: '-', source: 'core', level, message, fields: null }),
      onSignInStep: (step, server, at) => manager.recordSignIn(step, server, at),
    });

    tokenExchange = new TokenExchangeManager({
      store,
      secrets: () => secrets,
      auth: manager.auth,
      upstreamCredentials: (s, purpose) => authServer?.credentialsFor(s, purpose),
      upstreamName: () => authServer?.upstreamName(),
      log: (server, level, message) => logs.write({ server, source: 'core', level, message, fields: null }),
    });

    const token = randomBytes(32).toString('base64url');
    let stopPromise: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      stopPromise ??= (async () => {
        stopping = true;
        await api.close();
        await manager.shutdown(true);
        await authServer.close();
        // The last requests' decisions are written before the store closes.
        await decisions.settled();
        stopEvents?.();
        fs.rmSync(paths.discovery, { force: true });
        for (const c of cleanup) c();
      })();
      return stopPromise;
    };
    const coreInfo = async (): Promise<CoreInfo> => {
      try {
        const rt = await runtime();
        return { version: VERSION, pid: process.pid, home: paths.dir, engine: { connected: true, name: rt.engineName, version: rt.engineVersion } };
      } catch (err) {
        return { version: VERSION, pid: process.pid, home: paths.dir, engine: { connected: false, error: (err as Error).message } };
      }
    };
    const api = new ApiServer(
      {
      token,
      manager,
      store,
      logs,
      clients,
      coreInfo,
      secrets: () => secrets,
      signIns,
      authServer,
      tokenExchange,
      shutdown: () => void stop().then(() => opts.onShutdown?.()),
      },
      { rendererDir: opts.rendererDir ?? DEFAULT_RENDERER_DIR, checkResponses: opts.checkApiResponses === true },
    );
    const url = await api.listen(opts.apiPort ?? 0);
    cleanup.unshift(() => void api.close());

    await manager.restoreAll();
    // After the servers: the authorization server's audiences are the servers that take its tokens.
    await authServer.restore();
    writeDiscovery(paths.discovery, { url, token, pid: process.pid, startedAt: new Date().toISOString(), version: VERSION });
    const ipc = createIpcApi(api.service, { uiLoginUrl: () => api.loginUrl(), caller: 'app' });
    return { url, token, paths, store, manager, secrets, sealed, clients, logs, loginUrl: () => api.loginUrl(), ipc, stop };
  } catch (err) {
    for (const c of cleanup) {
      try {
        c();
      } catch {
        // best effort: the original error matters more
      }
    }
    throw err;
  }
}

/** The user's log retention (the app's Logs settings), or the default; a malformed value is the default. */
export function retentionSetting(store: Store): RetentionPolicy {
  const parsed = LogRetentionSchema.safeParse(store.settings.get('logRetention'));
  return parsed.success ? { maxRows: parsed.data.maxLines, maxAgeMs: parsed.data.maxDays * 86_400_000 } : DEFAULT_RETENTION;
}

function networkFromEnv(): NetworkSetting | undefined {
  const v = process.env['GATEHOUSE_NETWORK'];
  return v === 'host' || v === 'default' || v === 'none' ? v : undefined;
}
