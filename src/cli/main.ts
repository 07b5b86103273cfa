import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import type { ApiClient, LogLine, RunRequestBody, ServerView, SignInView } from '../api/browser.js';
import { addRemoteOptions, remoteSettingsFromFlags } from './remote-flags.js';
// Only what every command needs is imported here: commander, the API client and small modules. A
// command's heavy modules (the core for `serve`, src/auth for the authentication flags, src/authz for
// policy files, the MCP SDK for `bridge`) are loaded with import() in its action, so `gatehouse ls`
// and every bridge a client starts do not load the whole core (see `npm run bench:cli`).
import { CoreAlreadyRunningError, VERSION } from '../app/light.js';
import { connectCore, CoreUnavailableError, shutdownCore } from './core-connection.js';
import { ExitCode, exitCodeFor } from './exit-codes.js';
import { parsePort } from './port-option.js';
import { formatTime, table } from './format.js';
import { readSecretValue } from './read-secret.js';
import { addAuthOptions, isAuthUsageError, loadAuthFlags, type AuthFlags } from './auth-options.js';
import { addClientCommands } from './client-commands.js';
import { addAuthServerCommands } from './auth-server-commands.js';
import { addPolicyCommands, isPolicyUsageError, loadPolicyFiles } from './policy-commands.js';
import { registerBridgeCommand } from './bridge-command.js';
import { addTokenExchangeOptions, tokenExchangeFromFlags, tokenExchangeText } from './token-exchange-flags.js';
import { errorWords } from './hint-words.js';
import { openInBrowser } from '../common/index.js';

type Format = 'table' | 'json';

function print(format: Format, json: unknown, text: () => string): void {
  process.stdout.write((format === 'json' ? JSON.stringify(json, null, 2) : text()) + '\n');
}

type NameResult<T> = { name: string; ok: true; value: T } | { name: string; ok: false; error: string };

/**
 * Runs a lifecycle verb on each name in turn, like `docker stop a b`: one name that fails does not
 * stop the others. The error of a single name is thrown as before; with several, each failure is
 * printed and the first one's exit code is kept.
 */
async function forEachName<T>(names: string[], fn: (name: string) => Promise<T>): Promise<Array<NameResult<T>>> {
  if (names.length === 1) return [{ name: names[0]!, ok: true, value: await fn(names[0]!) }];
  const results: Array<NameResult<T>> = [];
  let firstFailure: number | undefined;
  for (const name of names) {
    try {
      results.push({ name, ok: true, value: await fn(name) });
    } catch (err) {
      if (err instanceof CoreUnavailableError) throw err; // nothing else would work either
      process.stderr.write(`gatehouse: ${name}: ${(err as Error).message}\n`);
      firstFailure ??= exitCodeFor(err);
      results.push({ name, ok: false, error: (err as Error).message });
    }
  }
  if (firstFailure !== undefined) process.exitCode = firstFailure;
  return results;
}

/** One name keeps the single object scripts already read; several give an array in the same order. */
function printJsonResults<T>(results: Array<NameResult<T>>): void {
  const only = results.length === 1 ? results[0] : undefined;
  if (only?.ok) print('json', only.value, () => '');
  else print('json', results.map((r) => (r.ok ? r.value : { name: r.name, error: r.error })), () => '');
}

function serverRows(servers: ServerView[]): string {
  if (servers.length === 0) return 'No servers. Start one with: gatehouse run <image>';
  return table(
    ['NAME', 'STATUS', 'TRANSPORT', 'URL', 'IMAGE OR REMOTE URL'],
    servers.map((s) => [s.name, s.status + (s.statusDetail && s.status === 'error' ? ` (${s.statusDetail.slice(0, 60)})` : ''), s.transport, s.url, s.kind === 'remote' ? (s.remoteUrl ?? '') : (s.image ?? '')]),
  );
}

function describeAuth(auth: unknown): string {
  const a = auth as { type?: string; inline?: { issuer?: string }; configMap?: { name?: string }; kubernetes?: { namespace?: string; serviceAccount?: string } } | null;
  switch (a?.type) {
    case 'inline':
      return `tokens from ${a.inline?.issuer ?? '?'}`;
    case 'configMap':
      return `shared profile ${a.configMap?.name ?? '?'}`;
    case 'kubernetes':
      return `Kubernetes service account ${a.kubernetes?.namespace ?? '?'}/${a.kubernetes?.serviceAccount ?? '?'}`;
    default:
      return 'none (local mode: loopback only, the caller is the OS user)';
  }
}

function logLine(l: LogLine): string {
  return `${formatTime(l.ts)} ${l.server} ${l.source.padEnd(9)} ${l.level.padEnd(5)} ${l.message}`;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new CommanderError(ExitCode.usage, 'gatehouse.env', `-e expects KEY=VALUE, got "${p}"`);
    env[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return env;
}

/** ToolHive's form: --secret NAME,target=ENV_VAR */
function parseSecretFlag(v: string): { name: string; target: string } {
  const m = /^([^,=\s]+),target=([A-Za-z_][A-Za-z0-9_]*)$/.exec(v);
  if (!m) throw new CommanderError(ExitCode.usage, 'gatehouse.secret', `--secret expects NAME,target=ENV_VAR, got "${v}"`);
  return { name: m[1]!, target: m[2]! };
}

/** Host paths in -v and profile files are the user's, relative to where they typed the command. */
function absolutizeVolume(v: string): string {
  const parts = v.split(':');
  const host = parts[0] ?? '';
  if (parts.length < 2 || host.startsWith('volume') || path.isAbsolute(host)) return v;
  return [path.resolve(host), ...parts.slice(1)].join(':');
}

/** A sign-in in words: what the CLI prints for `auth status` and after `login`. */
export function signInWords(v: SignInView, now = Date.now()): string {
  if (v.credential !== 'oauth') return `${v.server} does not use an OAuth sign-in (${v.credential === 'bearer' ? 'a bearer token from the keychain' : 'no credentials'}).`;
  const state = { 'signed-in': 'signed in', 'signed-out': 'not signed in', 'needs-sign-in': 'sign-in required', retrying: 'retrying its sign-in' }[v.state];
  const lines = [`${v.server}: ${state}${v.detail ? ` (${v.detail})` : ''}`];
  const claim = (k: string) => (v.claims && v.claims[k] !== undefined ? (Array.isArray(v.claims[k]) ? (v.claims[k] as unknown[]).join(', ') : String(v.claims[k])) : undefined);
  const rows: [string, string | undefined][] = [
    ['issuer', v.issuer ?? undefined],
    ['subject', claim('sub')],
    ['audience', claim('aud')],
    ['scopes', v.scope ?? claim('scope')],
    ['access token expires', v.expiresAt !== null ? `in ${Math.max(0, Math.round((v.expiresAt - now) / 1000))} s` : undefined],
    ['last refresh', v.lastRefresh ? `${new Date(v.lastRefresh.at).toISOString()} ${v.lastRefresh.ok ? 'ok' : `failed: ${v.lastRefresh.detail ?? ''}`}` : undefined],
    ['asks for more', v.stepUp ? v.stepUp.join(' ') : undefined],
    ['sign-in under way', v.pending ? v.pending.authorizationUrl : undefined],
  ];
  for (const [k, val] of rows) if (val !== undefined) lines.push(`  ${k.padEnd(22)}${val}`);
  if (v.state === 'needs-sign-in' || v.state === 'signed-out' || v.stepUp) lines.push(`Sign in with: gatehouse login ${v.server}`);
  return lines.join('\n');
}

/** Starts (or joins) a sign-in, shows its URL, waits for the browser; Ctrl-C cancels it. */
async function runLogin(api: ApiClient, name: string): Promise<void> {
  const started = await api.signInStart({ name });
  const url = started.pending?.authorizationUrl;
  if (url) {
    process.stdout.write(
      `${started.pending?.browserOpened ? 'Your browser opens to sign in' : 'Open this URL in a browser to sign in'} to ${name}. If it does not open, visit:\n\n  ${url}\n\nWaiting for the sign-in (Ctrl-C cancels)...\n`,
    );
  }
  const cancel = () => {
    void api.signInCancel({ name }).finally(() => process.exit(ExitCode.failure));
  };
  process.once('SIGINT', cancel);
  try {
    const done = await api.signInWait({ name });
    process.stdout.write(`${signInWords(done)}\n`);
    if (done.state !== 'signed-in') process.exitCode = ExitCode.failure;
  } finally {
    process.off('SIGINT', cancel);
  }
}

export function buildProgram(): Command {
  const program = new Command('gatehouse')
    .description('Run MCP servers in containers, each behind its own local proxy.')
    .version(VERSION)
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .showHelpAfterError()
    .exitOverride();
  const fmt = (): Format => program.opts<{ format: Format }>().format;
  const withCore = async <T>(fn: (api: ApiClient) => Promise<T>): Promise<T> => fn(await connectCore());

  program
    .command('serve')
    .description('run the Gatehouse core in the foreground (control API and proxies)')
    .option('--background', 'started by another command; do not print the banner')
    .option('--open', 'open the app in the default browser')
    .option('--port <port>', 'port of the control API and the app (default: any free port)', parsePort)
    .addOption(new Option('--network <mode>', 'network for containers that may use the network').choices(['default', 'host']))
    .action(async (o: { background?: boolean; open?: boolean; port?: number; network?: 'default' | 'host' }) => {
      let resolveStopped: () => void = () => {};
      const stopped = new Promise<void>((r) => (resolveStopped = r));
      const { startCore } = await import('../app/index.js');
      const core = await startCore({ defaultNetwork: o.network, apiPort: o.port, onShutdown: () => resolveStopped() });
      if (!o.background) {
        const login = core.loginUrl();
        process.stdout.write(
          `Gatehouse core ${VERSION} running (data in ${core.paths.dir}). Ctrl-C to quit.\n\n` +
            `  Open the app: ${login}\n  (the link signs this browser in once and expires in 15 minutes; \`gatehouse ui\` makes a new one)\n\n`,
        );
        if (o.open) await openInBrowser(login, (why) => process.stderr.write(`Could not open a browser (${why}): open the link above.\n`));
      }
      const quit = () => void core.stop().then(() => resolveStopped());
      process.once('SIGINT', quit);
      process.once('SIGTERM', quit);
      await stopped;
    });

  const runCmd = program
    .command('run <image-or-url> [args...]')
    .description('run an MCP server image behind a local proxy (arguments after -- go to the server), or add a remote MCP server by its https URL')
    .option('--name <name>', 'server name (default: from the image or the host)')
    .addOption(new Option('--transport <transport>', 'how the server speaks MCP (default: stdio for images; for URLs, sse when the path ends in /sse)').choices(['stdio', 'sse', 'streamable-http']))
    .option('--proxy-port <port>', 'proxy port on 127.0.0.1 (default: a free one, kept for life)', parsePort)
    .option('--target-port <port>', 'port the server listens on in the container (sse, streamable-http)', parsePort)
    .option('-e, --env <KEY=VALUE>', 'environment variable for the server (repeatable)', collect, [] as string[])
    .option('--secret <NAME,target=ENV>', 'put a secret from the keychain into the environment variable ENV (repeatable)', collect, [] as string[])
    .option('-v, --volume <host:container[:ro]>', 'mount a host path (repeatable)', collect, [] as string[])
    .option('--permission-profile <profile>', 'none, network, or a JSON profile file', 'network')
    .option('--group <group>', 'group of servers', 'default')
    .option('--memory <limit>', 'memory limit, e.g. 512m')
    .option('--cpus <n>', 'CPU limit, e.g. 1.5')
    .addOption(new Option('--network <mode>', 'container network (default: the core setting)').choices(['default', 'host', 'none']))
    .option('--authz-config <file>', "Cedar policies (ToolHive's authz-config, JSON or YAML): saved as a policy set named after the server")
    .option('--policy-set <name>', 'authorize with this saved policy set (with --authz-config: the name to save it under)')
    .option('--strict', "refuse an --authz-config Cedar's validator has findings about (by default they are printed as warnings and the file loads, as in ToolHive)");
  addTokenExchangeOptions(addRemoteOptions(addAuthOptions(runCmd))).action(async (target: string, args: string[], o: Record<string, unknown>) => {
      const { authConfigFromFlags } = await loadAuthFlags();
      const profile = String(o['permissionProfile']);
      const remote = remoteSettingsFromFlags(o);
      const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(target);
      if (remote && !isUrl) throw new CommanderError(ExitCode.usage, 'gatehouse.remote', 'The --remote-* flags are for remote servers: give the server\'s URL instead of an image.');
      const body: RunRequestBody = {
        ...(isUrl ? { url: target, ...(remote ? { remote } : {}) } : { image: target }),
        args,
        name: o['name'] as string | undefined,
        transport: o['transport'] as RunRequestBody['transport'],
        proxyPort: o['proxyPort'] as number | undefined,
        targetPort: o['targetPort'] as number | undefined,
        env: parseEnv(o['env'] as string[]),
        secrets: (o['secret'] as string[]).map(parseSecretFlag),
        volumes: (o['volume'] as string[]).map(absolutizeVolume),
        permissionProfile: profile === 'none' || profile === 'network' ? profile : path.resolve(profile),
        group: o['group'] as string,
        memory: o['memory'] as string | undefined,
        cpus: o['cpus'] as string | undefined,
        network: o['network'] as RunRequestBody['network'],
        auth: authConfigFromFlags(o as AuthFlags),
      };
      if (typeof o['authzConfig'] === 'string') {
        const { readAuthzConfigFileAndText, warnAboutPolicies } = await loadPolicyFiles();
        const { config, source } = readAuthzConfigFileAndText(o['authzConfig']);
        body.authzConfig = config;
        body.authzSource = source;
        if (o['strict'] === true) body.authzStrict = true;
        else warnAboutPolicies(o['authzConfig'], config);
      }
      if (typeof o['policySet'] === 'string') body.policySet = o['policySet'];
      const tokenExchange = await tokenExchangeFromFlags(o);
      if (tokenExchange !== undefined) body.tokenExchange = tokenExchange;
      const s = await withCore((api) => api.run(body));
      if (s.status === 'needs-sign-in') {
        // As `thv run <url> --remote-auth` does: the sign-in follows at once (it can also wait: gatehouse login).
        print(fmt(), s, () => `Server ${s.name} was added. Its MCP URL for clients: ${s.url}\nIt needs a sign-in.`);
        if (fmt() === 'table') return withCore((api) => runLogin(api, s.name));
        return;
      }
      print(fmt(), s, () =>
        s.status === 'running'
          ? `Server ${s.name} is running.\nPoint your MCP client at: ${s.url}`
          : `Server ${s.name} was created but is ${s.status}: ${s.statusDetail ?? ''}\nSee: gatehouse logs ${s.name}`,
      );
      if (s.status !== 'running') process.exitCode = ExitCode.failure;
    });

  program
    .command('login <server>')
    .description("sign in in the browser: to a remote server, or at a local server's identity provider for the clients that cannot (the URL is printed too, for a browser on another machine)")
    .action(async (name: string) => {
      await withCore(async (api) => {
        if (fmt() === 'json') {
          await api.signInStart({ name });
          const done = await api.signInWait({ name });
          print(fmt(), done, () => '');
          return;
        }
        await runLogin(api, name);
      });
    });

  program
    .command('logout <server>')
    .description("forget Gatehouse's sign-in for a server (its refresh token leaves the keychain)")
    .action(async (name: string) => {
      const v = await withCore((api) => api.signOut({ name }));
      print(fmt(), v, () => `Signed out of ${name}. Sign in again with: gatehouse login ${name}`);
    });

  program
    .command('ls')
    .alias('list')
    .description('list servers')
    .action(async () => {
      const servers = await withCore((api) => api.listServers());
      print(fmt(), servers, () => serverRows(servers));
    });

  for (const [verb, help] of [
    ['start', 'start a stopped server (same URL as before)'],
    ['stop', 'stop a server (its URL stays reserved)'],
    ['restart', 'restart a server'],
  ] as const) {
    program
      .command(`${verb} <names...>`)
      .description(help)
      .action(async (names: string[]) => {
        const results = await forEachName(names, async (name) => {
          const s = await withCore((api) => api[verb]({ name }));
          if (fmt() === 'table') print(fmt(), s, () => `${s.name}: ${s.status}${s.statusDetail ? ` (${s.statusDetail})` : ''}${s.status === 'running' ? `  ${s.url}` : ''}`);
          if (verb !== 'stop' && s.status !== 'running') process.exitCode ??= ExitCode.failure;
          return s;
        });
        if (fmt() === 'json') printJsonResults(results);
      });
  }

  program
    .command('rename <name> <new-name>')
    .alias('mv')
    .description('rename a server (same URL; a running server restarts under the new name; client entries follow)')
    .action(async (name: string, newName: string) => {
      const s = await withCore((api) => api.rename({ name, newName }));
      print(fmt(), s, () => `Renamed ${name} to ${s.name} (${s.status})  ${s.url}`);
    });

  program
    .command('rm <names...>')
    .alias('remove')
    .description('remove servers and their containers')
    .option('-f, --force', 'remove even if running')
    .action(async (names: string[], o: { force?: boolean }) => {
      const results = await forEachName(names, async (name) => {
        const r = await withCore((api) => api.remove({ name, force: o.force === true }));
        if (fmt() === 'table') print(fmt(), r, () => `Removed ${name}.`);
        return r;
      });
      if (fmt() === 'json') printJsonResults(results);
    });

  program
    .command('status <name>')
    .alias('inspect')
    .description('show one server in detail, with its status history')
    .action(async (name: string) => {
      const s = await withCore((api) => api.getServer({ name }));
      print(fmt(), s, () =>
        [
          `${s.name}: ${s.status}${s.statusDetail ? ` (${s.statusDetail})` : ''}`,
          `  url:       ${s.url}`,
          `  image:     ${s.image ?? ''}`,
          `  transport: ${s.transport}`,
          `  profile:   ${s.permissionProfile}`,
          `  secrets:   ${s.secrets.length ? s.secrets.map((r) => `${r.name} → ${r.target}`).join(', ') : '-'}`,
          `  auth:      ${describeAuth(s.auth)}`,
          `  policies:  ${s.policySet ? `policy set ${s.policySet} (gatehouse policy show ${s.policySet})` : 'none (every request passes; add with gatehouse policy apply NAME --server ' + s.name + ')'}`,
          `  container: ${s.containerId?.slice(0, 12) ?? '-'}`,
          '  history:',
          ...s.history.map((h) => `    ${h.at}  ${h.status}${h.detail ? `  ${h.detail}` : ''}${h.exitCode !== null ? `  (exit ${h.exitCode})` : ''}`),
        ].join('\n'),
      );
    });

  program
    .command('logs [name]')
    .description("show a server's logs (container output; --proxy for the proxy's); without a name, every server's and Gatehouse's own")
    .option('-f, --follow', 'keep printing new lines')
    .option('--proxy', "the proxy's log instead of the container's")
    .option('--audit', "the audit events (ToolHive's format: who called what, and the decision)")
    .option('--all', 'container, proxy, audit and core lines together')
    .option('--sign-ins', 'the steps of sign-ins at the embedded authorization server (registration, consent, upstream login, code, token, revocation)')
    .option('--search <text>', 'full-text search')
    .option('-n, --tail <n>', 'how many lines', (v) => parsePort(v), 200)
    .action(async (name: string | undefined, o: { follow?: boolean; proxy?: boolean; audit?: boolean; all?: boolean; signIns?: boolean; search?: string; tail: number }) => {
      const api = await connectCore();
      const sources: LogLine['source'][] | undefined = o.signIns ? ['audit'] : o.all ? undefined : o.proxy ? ['proxy'] : o.audit ? ['audit'] : ['container', 'core'];
      const filter = { server: name, sources, search: o.search, ...(o.signIns ? { type: 'oauth_*' } : {}) };
      const lines = await api.logs({ ...filter, limit: o.tail });
      if (!o.follow) {
        print(fmt(), lines, () => lines.map(logLine).join('\n'));
        return;
      }
      for (const l of lines) process.stdout.write((fmt() === 'json' ? JSON.stringify(l) : logLine(l)) + '\n');
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort());
      await api
        .follow('followLogs', { ...filter, limit: 10_000, afterId: lines.at(-1)?.id ?? 0 }, (l) => process.stdout.write((fmt() === 'json' ? JSON.stringify(l) : logLine(l)) + '\n'), ac.signal)
        .catch((err: unknown) => {
          if (!ac.signal.aborted) throw err;
        });
    });

  const auth = program.command('auth').description("who may call a server (ToolHive's OIDC settings, applied to the running proxy at once), and Gatehouse's sign-ins to remote servers");
  addAuthOptions(auth.command('set <server>').description('change a server\'s authentication (the container keeps running)').option('--none', 'local mode: no token needed, loopback only'))
    .action(async (server: string, o: AuthFlags & { none?: boolean }) => {
      const config = o.none ? { type: 'none' } : (await loadAuthFlags()).authConfigFromFlags(o);
      if (config === undefined) throw new CommanderError(ExitCode.usage, 'gatehouse.auth', 'Give --none, or authentication flags (--oidc-issuer, --idp, --oidc-config, --k8s-service-account).');
      const s = await withCore((api) => api.setAuth({ name: server, auth: config }));
      print(fmt(), s, () => `${s.name}: authentication ${describeAuth(s.auth)}`);
    });
  auth
    .command('status <server>')
    .description('the sign-in of a remote server: state, issuer, audience, scopes, expiry, last refresh (never a token)')
    .action(async (name: string) => {
      const v = await withCore((api) => api.signInStatus({ name }));
      print(fmt(), v, () => signInWords(v));
      if (v.credential === 'oauth' && v.state !== 'signed-in') process.exitCode = ExitCode.failure;
    });

  addTokenExchangeOptions(
    auth
      .command('token-exchange <server>')
      .description("exchange callers' tokens (RFC 8693) for tokens the server accepts; applies when the server (re)starts")
      .option('--none', 'stop exchanging: the server gets no token from Gatehouse'),
  ).action(async (server: string, o: Record<string, unknown>) => {
    if (o['none'] === true) {
      await withCore((api) => api.removeTokenExchange({ name: server }));
      print(fmt(), { ok: true }, () => `${server}: no token exchange. Restart it to apply: gatehouse restart ${server}`);
      return;
    }
    const settings = await tokenExchangeFromFlags(o);
    if (settings === undefined) {
      const v = await withCore((api) => api.tokenExchange({ name: server }));
      print(fmt(), v, () => (v ? tokenExchangeText(server, v) : `${server}: no token exchange. Set one with --token-exchange-url URL (or --token-exchange-config FILE).`));
      return;
    }
    const v = await withCore((api) => api.setTokenExchange({ name: server, settings }));
    const when = { 'next-request': `${server} uses them from its next request.`, restart: `Restart it to apply: gatehouse restart ${server}`, start: `${server} uses them when it starts.` }[v.applies];
    print(fmt(), v, () => `${tokenExchangeText(server, v)}\n${when}`);
  });

  auth
    .command('show <server>')
    .description("show a server's authentication settings")
    .action(async (server: string) => {
      const s = await withCore((api) => api.getServer({ name: server }));
      print(fmt(), s.auth, () => `${s.name}: ${describeAuth(s.auth)}\n${JSON.stringify(s.auth, null, 2)}`);
    });

  const idp = program.command('idp').description('shared identity-provider profiles, used by many servers (--idp NAME)');
  addAuthOptions(
    idp
      .command('add <name>')
      .description('create or replace a profile (servers using it switch at once)')
      .option('--from-file <file>', 'a ConfigMap manifest or the oidc.json object, as in ToolHive\'s shared configuration')
      .option('--key <key>', 'the ConfigMap data key (default: its only key, or oidc.json)'),
  ).action(async (name: string, o: AuthFlags & { fromFile?: string; key?: string }) => {
    const { idpProfileFromFlags } = await loadAuthFlags();
    const p = await withCore((api) => api.putIdp({ name, config: idpProfileFromFlags(o) }));
    print(fmt(), p, () => `Profile ${name} saved${p.usedBy.length ? `; applied to ${p.usedBy.join(', ')}` : ''}.`);
  });
  idp
    .command('ls')
    .alias('list')
    .description('list profiles')
    .action(async () => {
      const list = await withCore((api) => api.idps());
      print(fmt(), list, () =>
        list.length === 0 ? 'No profiles. Add one with: gatehouse idp add NAME --oidc-issuer URL' : table(['NAME', 'ISSUER', 'AUDIENCE', 'USED BY'], list.map((p) => [p.name, String(p.config['issuer'] ?? ''), String(p.config['audience'] ?? '(each server\'s URL)'), p.usedBy.join(', ')])),
      );
    });
  idp
    .command('show <name>')
    .description('show a profile')
    .action(async (name: string) => {
      const p = await withCore((api) => api.idp({ name }));
      print(fmt(), p, () => `${p.name} (used by ${p.usedBy.join(', ') || 'no server'})\n${JSON.stringify(p.config, null, 2)}`);
    });
  idp
    .command('rm <name>')
    .alias('remove')
    .description('delete a profile (refused while servers use it)')
    .action(async (name: string) => {
      const r = await withCore((api) => api.removeIdp({ name }));
      print(fmt(), r, () => `Removed profile ${name}.`);
    });

  const secret = program.command('secret').description('secrets in the OS keychain, for servers (--secret NAME,target=ENV)');
  secret
    .command('set <name>')
    .description('store a secret; the value is read from standard input or a hidden prompt, never from the command line')
    .action(async (name: string) => {
      const api = await connectCore();
      const value = await readSecretValue(`Value for ${name} (input hidden): `);
      if (value === '') throw new CommanderError(ExitCode.usage, 'gatehouse.secret', 'The value is empty: nothing was stored.');
      const r = await api.setSecret({ name, value });
      print(fmt(), r, () => `Stored secret ${name}${r.usedBy.length ? ` (used by ${r.usedBy.map((u) => u.server).join(', ')}; restart them to apply)` : ''}.`);
    });
  secret
    .command('ls')
    .alias('list')
    .description('list secret names and where they are used (never values)')
    .action(async () => {
      const info = await withCore((api) => api.secrets());
      print(fmt(), info, () =>
        [
          `Provider: ${info.description}${info.writable ? '' : ' (read-only)'}`,
          info.secrets.length === 0 ? 'No secrets. Add one with: gatehouse secret set NAME' : table(['NAME', 'USED BY'], info.secrets.map((s) => [s.name, s.usedBy.map((u) => `${u.server} (${u.target})`).join(', ')])),
          ...info.missing.map((m) => `Missing: ${m.name}, needed by ${m.usedBy.map((u) => u.server).join(', ')}`),
        ].join('\n'),
      );
    });
  secret
    .command('rm <name>')
    .alias('remove')
    .description('delete a secret from the keychain')
    .option('-f, --force', 'delete even if servers use it')
    .action(async (name: string, o: { force?: boolean }) => {
      const r = await withCore((api) => api.removeSecret({ name, force: o.force === true }));
      print(fmt(), r, () => `Removed secret ${name}.`);
    });

  addPolicyCommands(program, fmt, withCore);
  registerBridgeCommand(program);
  addClientCommands(program, fmt, withCore);
  addAuthServerCommands(program, fmt, withCore);

  program
    .command('core')
    .description('show the running core and the container engine it uses')
    .action(async () => {
      const info = await withCore((api) => api.core());
      print(fmt(), info, () =>
        [
          `Gatehouse ${info.version} (pid ${info.pid}), data in ${info.home}`,
          info.engine.connected ? `Container engine: ${info.engine.name}, version ${info.engine.version}` : `Container engine: not available. ${info.engine.error}`,
        ].join('\n'),
      );
    });

  program
    .command('ui')
    .description('open the Gatehouse app in the default browser (starts the core if needed)')
    .option('--no-open', 'only print the sign-in link')
    .action(async (o: { open: boolean }) => {
      const { url } = await withCore((api) => api.uiLoginCode());
      process.stdout.write(`Open the app: ${url}\n`);
      if (o.open) await openInBrowser(url, (why) => process.stderr.write(`Could not open a browser (${why}): open the link above.\n`));
    });

  program
    .command('shutdown')
    .description('quit the running core (running servers come back at its next start)')
    .action(async () => {
      if (!(await shutdownCore())) {
        process.stdout.write('No Gatehouse core is running.\n');
        return;
      }
      process.stdout.write('Gatehouse core stopped.\n');
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.ok;
      if (err.code.startsWith('gatehouse.')) process.stderr.write(`gatehouse: ${err.message}\n`);
      return ExitCode.usage;
    }
    process.stderr.write(`gatehouse: ${errorWords(err)}\n`);
    if (isAuthUsageError(err) || isPolicyUsageError(err)) return ExitCode.usage;
    if (err instanceof CoreUnavailableError) return ExitCode.coreUnavailable;
    if (err instanceof CoreAlreadyRunningError) return ExitCode.conflict;
    return exitCodeFor(err);
  }
}

const code = await main(process.argv);
// Let stdout drain, then leave with the code scripts rely on.
process.exitCode = code;
