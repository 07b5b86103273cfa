import { CommanderError, Option, type Command } from 'commander';
import type { RemoteSettingsInput } from '../remote/index.js';
import { goDurationMs } from '../common/index.js';
import { ExitCode } from './exit-codes.js';

/** ToolHive's remote flags (`thv run <url> --remote-auth-*`), with secrets named from the keychain. */
export function addRemoteOptions(cmd: Command): Command {
  return cmd
    .option('--remote-auth', 'remote servers: sign in with OAuth (the authorization server is found from the server)')
    .option('--remote-auth-issuer <url>', 'remote servers: the OAuth/OIDC issuer to sign in at (skips discovery)')
    .option('--remote-auth-authorize-url <url>', 'remote servers: authorization endpoint of a plain OAuth 2.0 server (with --remote-auth-token-url)')
    .option('--remote-auth-token-url <url>', 'remote servers: token endpoint of a plain OAuth 2.0 server')
    .option('--remote-auth-client-id <id>', 'remote servers: a client registered beforehand (default: Gatehouse registers itself)')
    .option('--remote-auth-client-secret <NAME>', "remote servers: the keychain secret holding that client's secret")
    .option('--remote-auth-client-metadata-url <url>', "remote servers: where Gatehouse's client metadata document is published (https), used as the client id where the authorization server supports it")
    .option('--remote-auth-scopes <scopes>', 'remote servers: scopes to ask for, comma-separated (default: what the server says it uses)')
    .option('--remote-auth-skip-browser', 'remote servers: print the sign-in URL, never open a browser')
    .option('--remote-auth-timeout <duration>', 'remote servers: how long a sign-in waits for the browser, e.g. 90s or 5m (default 5m)')
    .option('--remote-auth-callback-port <port>', 'remote servers: the callback port a pre-registered client uses')
    .option('--remote-auth-resource <url>', 'remote servers: the RFC 8707 resource (default: the server URL)')
    .option('--remote-auth-bearer-token <NAME>', 'remote servers: send the keychain secret NAME as a bearer token (no sign-in)')
    .option('--remote-forward-headers <Name=Value>', 'remote servers: add a header to every request (repeatable)', collect, [] as string[])
    .option('--remote-forward-headers-secret <Name=NAME>', 'remote servers: add a header whose value is the keychain secret NAME (repeatable)', collect, [] as string[])
    .addOption(new Option('--remote-allow-private-ip', 'remote servers: allow a server or authorization server on a private or link-local address'));
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const usage = (message: string) => new CommanderError(ExitCode.usage, 'gatehouse.remote', message);

/** A Go duration (ToolHive's flags): 90s, 5m, 1h30m, 250ms. */
export function parseGoDuration(text: string): number {
  const ms = goDurationMs(text);
  if (ms === undefined) throw usage(`"${text}" is not a duration (e.g. 90s, 5m, 1h30m)`);
  return ms;
}

function header(flag: string, v: string): { name: string; rest: string } {
  const eq = v.indexOf('=');
  if (eq <= 0) throw usage(`${flag} expects Name=Value, got "${v}"`);
  return { name: v.slice(0, eq), rest: v.slice(eq + 1) };
}

/** The flags as remote settings (the core validates them; undefined when none was given). */
export function remoteSettingsFromFlags(o: Record<string, unknown>): RemoteSettingsInput | undefined {
  const str = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
  const r: RemoteSettingsInput = {};
  if (o['remoteAuth'] === true) r.oauth = true;
  const map: [keyof RemoteSettingsInput, string][] = [
    ['issuer', 'remoteAuthIssuer'],
    ['authorizeUrl', 'remoteAuthAuthorizeUrl'],
    ['tokenUrl', 'remoteAuthTokenUrl'],
    ['clientId', 'remoteAuthClientId'],
    ['clientSecret', 'remoteAuthClientSecret'],
    ['clientMetadataUrl', 'remoteAuthClientMetadataUrl'],
    ['resource', 'remoteAuthResource'],
    ['bearerToken', 'remoteAuthBearerToken'],
  ];
  for (const [key, flag] of map) {
    const v = str(flag);
    if (v !== undefined) (r as Record<string, unknown>)[key] = v;
  }
  // Any sign-in setting means a sign-in, as in ToolHive (an issuer alone turns OAuth on).
  if (r.issuer ?? r.authorizeUrl ?? r.clientId ?? r.clientMetadataUrl) r.oauth = true;
  const scopes = str('remoteAuthScopes');
  if (scopes !== undefined) r.scopes = scopes.split(/[,\s]+/).filter(Boolean);
  if (o['remoteAuthSkipBrowser'] === true) r.skipBrowser = true;
  const timeout = str('remoteAuthTimeout');
  if (timeout !== undefined) r.timeoutMs = parseGoDuration(timeout);
  const port = str('remoteAuthCallbackPort');
  if (port !== undefined) {
    const n = Number(port);
    if (!Number.isInteger(n) || n < 1024 || n > 65535) throw usage(`--remote-auth-callback-port must be 1024-65535, got "${port}"`);
    r.callbackPort = n;
  }
  const headers = [
    ...((o['remoteForwardHeaders'] as string[] | undefined) ?? []).map((v) => {
      const h = header('--remote-forward-headers', v);
      return { name: h.name, value: h.rest };
    }),
    ...((o['remoteForwardHeadersSecret'] as string[] | undefined) ?? []).map((v) => {
      const h = header('--remote-forward-headers-secret', v);
      return { name: h.name, secret: h.rest };
    }),
  ];
  if (headers.length) r.forwardHeaders = headers;
  if (o['remoteAllowPrivateIp'] === true) r.allowPrivateIp = true;
  return Object.keys(r).length ? r : undefined;
}
