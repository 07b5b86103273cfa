import fs from 'node:fs';
import { CommanderError, type Command } from 'commander';
import type { ApiClient, AuthServerClientView, AuthServerTestView, AuthServerUserView, AuthServerView } from '../api/browser.js';
import { ExitCode } from './exit-codes.js';
import { parsePort } from './port-option.js';
import { formatTime, table } from './format.js';

type Format = 'table' | 'json';

/** A lifespan as people say it: "1 hour", "7 days", "10 minutes". */
export function lifespanText(ms: number): string {
  const units: [number, string][] = [[86_400_000, 'day'], [3_600_000, 'hour'], [60_000, 'minute'], [1000, 'second']];
  for (const [size, unit] of units) {
    if (ms >= size && ms % size === 0) return `${ms / size} ${unit}${ms / size === 1 ? '' : 's'}`;
  }
  return `${ms} ms`;
}

function viewText(v: AuthServerView): string {
  if (!v.configured) return 'No authorization server is set up. Set one up with: gatehouse authserver set <file> (ToolHive embeddedAuthServer settings, YAML or JSON)';
  const lines = [`Authorization server: ${v.running ? 'running' : 'NOT RUNNING'}${v.issuer ? ` at ${v.issuer}` : ''}`];
  // An issuer elsewhere is reached through its front: say where that front has to forward.
  if (v.issuer && v.listensAt && new URL(v.issuer).port !== new URL(v.listensAt).port) lines.push(`  listens:   ${v.listensAt} (the front for ${new URL(v.issuer).host} forwards here)`);
  if (v.problem) lines.push(`  problem:   ${v.problem}`);
  if (v.upstream) {
    lines.push(`  upstream:  ${v.upstream.name} (${v.upstream.type}) ${v.upstream.url}`);
    const reg = v.upstream.registration;
    if (reg) lines.push(`  client:    ${reg.clientId}, registered at ${reg.endpoint} ${formatTime(reg.registeredAt)}${reg.expiresAt !== null ? `, its secret expires ${formatTime(reg.expiresAt)}` : ''} (dcrConfig)`);
    else if (v.upstream.clientId) lines.push(`  client:    ${v.upstream.clientId}`);
    else lines.push('  client:    not registered yet (dcrConfig): Gatehouse registers at the first sign-in');
  }
  lines.push(...audienceLines(v));
  for (const k of v.signingKeys) lines.push(`  key:       ${k.kid} ${k.alg}${k.retiredAt !== null ? ` (retired ${new Date(k.retiredAt).toISOString()}, still published)` : ' (signs)'}${k.origin === 'settings' ? ' from the settings' : ''}`);
  if (v.lifespans) lines.push(`  lifespans: access ${lifespanText(v.lifespans.accessTokenMs)}, refresh ${lifespanText(v.lifespans.refreshTokenMs)}, code ${lifespanText(v.lifespans.authCodeMs)}`);
  return lines.join('\n');
}

/**
 * The `resource` values a client may ask tokens for, as the engine matches them (exactly): by server,
 * every spelling of its URL it takes (127.0.0.1, localhost, [::1]), or the one URL its resourceUrl names.
 */
function audienceLines(v: AuthServerView): string[] {
  const ofServers = new Set(v.servers.flatMap((s) => s.urls));
  const extra = v.audiences.filter((a) => !ofServers.has(a));
  const lines = v.servers.length ? [] : ["  servers:   none yet (a server takes its tokens when its OIDC issuer is this one's)"];
  lines.push(...v.servers.map((s, i) => {
    const head = i === 0 ? '  servers:   ' : '             ';
    if (s.urls.length === 1) return `${head}${s.name}: only ${s.urls[0]} (its resourceUrl; no other spelling is accepted)`;
    return `${head}${s.name}: ${s.urls.join(', ')}`;
  }));
  if (extra.length) lines.push(`  also for:  ${extra.join(', ')} (allowedAudiences)`);
  return lines;
}

function clientsText(list: AuthServerClientView[]): string {
  if (list.length === 0) return 'No client was allowed on the consent page yet.';
  return table(
    ['CLIENT ID', 'NAME', 'ANSWERS TO', 'SCOPES', 'SERVER', 'GRANTS', 'ALLOWED'],
    list.map((c) => [c.clientId, c.clientName ?? '-', c.redirectHosts.join(', ') || '-', c.scopes.join(' ') || '-', c.resource ?? '-', String(c.grants), formatTime(c.approvedAt)]),
  );
}

function usersText(list: AuthServerUserView[]): string {
  if (list.length === 0) return 'Nobody signed in through the authorization server yet.';
  return table(
    ['SUBJECT', 'NAME', 'EMAIL', 'UPSTREAM', 'SIGNED IN', 'UPSTREAM TOKENS', 'GRANTS'],
    list.map((u) => [u.subject, u.name ?? '-', u.email ?? '-', u.upstream, formatTime(u.signedInAt), u.upstreamTokens ? 'kept' : 'none', String(u.grants)]),
  );
}

function testText(t: AuthServerTestView): string {
  if (t.state === 'failed') return `The sign-in at ${t.upstream ?? 'the identity provider'} failed: ${t.error ?? 'unknown'}`;
  if (t.state !== 'done' || !t.identity) return `The test is ${t.state}.`;
  const lines = [`${t.upstream ?? 'The identity provider'} identified: ${t.identity.subject}${t.identity.name ? ` (${t.identity.name})` : ''}${t.identity.email ? ` <${t.identity.email}>` : ''}`, 'No token was issued to any program.'];
  if (t.cedar) {
    lines.push('', `Cedar sees principal ${t.cedar.principal}${t.cedar.parents.length ? ` in ${t.cedar.parents.join(', ')}` : ''} with:`);
    const perToken = new Set(t.perToken.map((c) => `claim_${c}`));
    for (const [k, v] of Object.entries(t.cedar.attributes)) lines.push(`  ${k} = ${JSON.stringify(v)}${perToken.has(k) ? '   (differs per token)' : ''}`);
  }
  return lines.join('\n');
}

/** The settings file as ToolHive's guide writes it (YAML, also a whole MCPExternalAuthConfig) or a RunConfig's JSON: the core reads it. */
function readSettingsFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CommanderError(ExitCode.usage, 'gatehouse.authserver', `Cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
}

/** `gatehouse authserver ...`: the embedded authorization server (MCP clients sign in through it to your identity provider). */
export function addAuthServerCommands(program: Command, fmt: () => Format, withCore: <T>(fn: (api: ApiClient) => Promise<T>) => Promise<T>): void {
  const out = <T>(v: T, text: (v: T) => string) => process.stdout.write(`${fmt() === 'json' ? JSON.stringify(v, null, 2) : text(v)}\n`);
  const print = (v: AuthServerView) => out(v, viewText);
  const cmd = program.command('authserver').description('the embedded OAuth authorization server: MCP clients sign in through Gatehouse to your identity provider');
  cmd
    .command('set <file>')
    .description("use ToolHive's embeddedAuthServer settings (YAML or JSON, either spelling); invalid settings never replace running ones")
    .option('--port <port>', 'for an issuer not on this machine (https://mcp.example.com): the port on 127.0.0.1 its front (TLS proxy, tunnel) forwards to', parsePort)
    .action(async (file: string, o: { port?: number }) => {
      const document = readSettingsFile(file);
      print(await withCore((api) => api.setAuthServer({ document, ...(o.port !== undefined ? { listenPort: o.port } : {}) })));
    });
  cmd
    .command('show')
    .description('what runs: issuer, upstream, servers, signing keys, lifespans')
    .action(async () => {
      const v = await withCore((api) => api.authServer());
      print(v);
      if (v.configured && !v.running) process.exitCode = ExitCode.failure;
    });
  cmd
    .command('rm')
    .description('stop the authorization server and forget its settings (its keys stay in the keychain)')
    .action(async () => {
      print(await withCore((api) => api.removeAuthServer()));
    });
  cmd
    .command('rotate-key')
    .description("sign with a new key of Gatehouse's own; the old one stays published until the tokens it signed expire")
    .action(async () => {
      print(await withCore((api) => api.rotateAuthServerKey()));
    });
  cmd
    .command('clients')
    .description('the clients you allowed on the consent page')
    .action(async () => {
      out(await withCore((api) => api.authServerClients()), clientsText);
    });
  cmd
    .command('revoke-client <id>')
    .description('forget that you allowed a client and revoke its grants and refresh tokens: it signs in, and asks you, again')
    .action(async (id: string) => {
      out(await withCore((api) => api.revokeAuthServerClient({ id })), (r) => `Revoked ${r.revoked}: its approval and ${r.grants} grant(s).`);
    });
  cmd
    .command('users')
    .description('the users who signed in through it')
    .action(async () => {
      out(await withCore((api) => api.authServerUsers()), usersText);
    });
  cmd
    .command('revoke-user <subject>')
    .description("sign a user out: their grants, refresh tokens, sessions and the upstream tokens kept for them")
    .action(async (subject: string) => {
      out(await withCore((api) => api.revokeAuthServerUser({ subject })), (r) => `Signed ${r.revoked} out: ${r.grants} grant(s) and ${r.sessions} session(s) revoked, upstream tokens forgotten.`);
    });
  cmd
    .command('test')
    .description('sign in at the upstream provider (in your browser) and see the identity and the claims Cedar would get; no token is issued')
    .action(async () => {
      const result = await withCore(async (api) => {
        const started = await api.startAuthServerTest();
        if (fmt() === 'table' && started.authorizationUrl) process.stderr.write(`${started.browserOpened ? 'Your browser opened to sign in at' : 'Open this address to sign in at'} ${started.upstream ?? 'the identity provider'}:\n  ${started.authorizationUrl}\n`);
        return api.waitAuthServerTest();
      });
      out(result, testText);
      if (result.state !== 'done') process.exitCode = ExitCode.failure;
    });
}
