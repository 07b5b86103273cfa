import { randomBytes } from 'node:crypto';
import {
  discoverAuthorizationServerMetadata,
  extractWWWAuthenticateParams,
  discoverOAuthProtectedResourceMetadata,
  exchangeAuthorization,
  registerClient,
  startAuthorization,
} from '@modelcontextprotocol/sdk/client/auth.js';
import type { AuthorizationServerMetadata, OAuthClientInformationMixed, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { assertUrlAllowed, safeFetchLike } from '../auth/index.js';
import { LoginError, openLoopbackCallback } from './loopback-callback.js';

/**
 * One loopback sign-in (authorization code + PKCE S256) on the MCP SDK's client helpers, with the checks
 * they leave to the caller done here first: the metadata's issuer echoes the issuer asked (RFC 8414
 * §3.3), S256 is advertised (no PKCE, no login), the authorization endpoint is https (http only on
 * loopback), and the protected resource metadata names this resource. Nothing is opened in a browser
 * before all of that holds.
 */
export interface SignInRequest {
  /** The MCP server's URL: its protected resource metadata says which authorization server to use. */
  serverUrl: string;
  /** Skip the resource metadata and use this issuer (ToolHive's --remote-auth-issuer). */
  issuer?: string;
  /** A client registered beforehand (--remote-auth-client-id) and the redirect URI it was registered with. */
  client?: { clientId: string; clientSecret?: string; redirectUri?: string };
  scopes?: string[];
  /** RFC 8707 resource on every leg (default: the server URL). */
  resource?: string;
  callbackPort?: number;
  timeoutMs?: number;
  /** Shows the URL (always, for a browser on another machine) and opens the system browser. */
  openUrl: (url: string) => Promise<void> | void;
  /** Private and link-local addresses for discovery and tokens (an explicit allow; loopback always works). */
  allowPrivateIp?: boolean;
  /** Default: the SSRF-safe fetch of src/auth (addresses checked in the connection's own lookup). */
  fetchFn?: (input: string | URL, init?: RequestInit) => Promise<Response>;
  /** Explicit endpoints of a plain OAuth 2.0 server without metadata (--remote-auth-authorize-url / -token-url). */
  endpoints?: { authorizationUrl: string; tokenUrl: string };
  /**
   * A client this sign-in registered before at the same issuer (kept across restarts), with the
   * callback path it was registered with; the port may differ (RFC 8252 §7.3).
   */
  registered?: { issuer: string; client: OAuthClientInformationMixed; redirectPath: string };
  /**
   * Gatehouse's Client ID Metadata Document (https, with a path): the client id at authorization servers
   * that advertise `client_id_metadata_document_supported`, before any registration.
   */
  clientMetadataUrl?: string;
  /** Ends the wait (the sign-in fails with `cancelled`). */
  signal?: AbortSignal;
}

/** The callback path of a client whose redirect URI is published (CIMD): the document lists http://127.0.0.1/callback, any port. */
export const PUBLISHED_CALLBACK_PATH = '/callback';

export interface SignInResult {
  issuer: string;
  metadata: AuthorizationServerMetadata;
  client: OAuthClientInformationMixed;
  tokens: OAuthTokens;
  resource: string;
  /** The scopes asked for (a later step-up asks for these and the new ones together). */
  requestedScopes: string[];
  /** Set when this sign-in registered its client (dynamic registration): keep it for the next one. */
  registration?: { issuer: string; client: OAuthClientInformationMixed; redirectPath: string };
}

/**
 * What the server's own 401 says (the MCP spec's first discovery step): the resource metadata URL and
 * the scope it asks for, from `WWW-Authenticate`. An initialize first; a server that lets initialize
 * through unauthenticated (the spec allows gating only some methods) is asked for its tools. A server
 * that answers neither with 401 says nothing.
 */
async function probeChallenge(serverUrl: string, fetchFn: NonNullable<SignInRequest['fetchFn']>): Promise<{ resourceMetadataUrl?: URL; scope?: string }> {
  const probes = [
    { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'gatehouse', version: '0.1.0' } } },
    { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} },
  ];
  for (const probe of probes) {
    let res: Response;
    try {
      res = await fetchFn(serverUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify(probe) });
    } catch {
      return {};
    }
    await res.body?.cancel().catch(() => {});
    if (res.status !== 401) continue;
    const params = extractWWWAuthenticateParams(res);
    return { ...(params.resourceMetadataUrl ? { resourceMetadataUrl: params.resourceMetadataUrl } : {}), ...(params.scope ? { scope: params.scope } : {}) };
  }
  return {};
}

export class SignInError extends Error {
  /** The authorization server does not know the client any more: the stored registration must go. */
  get staleRegistration(): boolean {
    return this.cause === 'invalid_client';
  }
}

/** https, or http to this machine: src/auth's URL rule for identity providers (addresses are checked when fetched). */
const secureOrLoopback = (raw: string): boolean => {
  try {
    assertUrlAllowed(raw, { insecureAllowHttp: false, allowPrivateIp: true });
    return true;
  } catch {
    return false;
  }
};

/** RFC 9728 §3.3: the metadata's resource is this one, or a path above it on the same origin. */
export function coversResource(advertised: string, resource: string): boolean {
  let a: URL;
  let r: URL;
  try {
    a = new URL(advertised);
    r = new URL(resource);
  } catch {
    return false;
  }
  if (a.origin !== r.origin) return false;
  const base = a.pathname.endsWith('/') ? a.pathname : `${a.pathname}/`;
  return r.pathname === a.pathname || r.pathname.startsWith(base);
}

/** The checks the SDK's discovery leaves to its caller (checklist rows C4, C5, C7). */
export function checkAuthorizationServer(issuer: string, metadata: AuthorizationServerMetadata | undefined): AuthorizationServerMetadata {
  if (!metadata) throw new SignInError(`${issuer} publishes no OAuth or OpenID metadata. If it is a plain OAuth 2.0 server, give its endpoints (--remote-auth-authorize-url and --remote-auth-token-url).`);
  if (metadata.issuer !== issuer) throw new SignInError(`The metadata of ${issuer} names another issuer (${JSON.stringify(metadata.issuer)}): refused (RFC 8414 §3.3).`);
  if (!metadata.code_challenge_methods_supported?.includes('S256')) throw new SignInError(`${issuer} does not advertise PKCE with S256: refused, as the MCP authorization spec requires.`);
  for (const [name, url] of [
    ['authorization_endpoint', metadata.authorization_endpoint],
    ['token_endpoint', metadata.token_endpoint],
  ] as const) {
    if (!secureOrLoopback(url)) throw new SignInError(`${issuer}'s ${name} is not an https URL (${JSON.stringify(url)}): refused.`);
  }
  return metadata;
}

export async function signIn(req: SignInRequest): Promise<SignInResult> {
  let resource = req.resource ?? req.serverUrl;
  // Every request of the sign-in goes through the SSRF rules (C8), the SDK's included.
  const fetchFn = req.fetchFn ?? safeFetchLike({ insecureAllowHttp: false, allowPrivateIp: req.allowPrivateIp === true }, { timeoutMs: 10_000 });
  let issuer = req.issuer;
  let scopes = req.scopes ?? [];
  if (req.signal?.aborted) throw new LoginError('cancelled', 'The sign-in was cancelled.');
  if (issuer === undefined && req.endpoints === undefined) {
    // The server's 401 first (its resource_metadata and scope), then RFC 9728's well-known paths.
    const challenge = await probeChallenge(req.serverUrl, fetchFn);
    let prm: Awaited<ReturnType<typeof discoverOAuthProtectedResourceMetadata>> | undefined;
    try {
      prm = await discoverOAuthProtectedResourceMetadata(req.serverUrl, challenge.resourceMetadataUrl ? { resourceMetadataUrl: challenge.resourceMetadataUrl } : {}, fetchFn);
    } catch (err) {
      // Only a server without any (a 404, the SDK's "does not implement") may be of the 2025-03-26 spec,
      // whose authorization server is the server's own origin; any other failure (a redirect, a
      // metadata URL its challenge named) stops the sign-in.
      const absent = /does not implement/.test((err as Error).message) && !challenge.resourceMetadataUrl;
      if (!absent) throw new SignInError(`The resource metadata of ${req.serverUrl} could not be read: ${(err as Error).message}`);
    }
    // Without configured scopes: the challenge's, else the ones the resource says it uses (the MCP spec's scope selection).
    if (scopes.length === 0 && challenge.scope) scopes = challenge.scope.split(' ').filter(Boolean);
    if (scopes.length === 0 && prm?.scopes_supported) scopes = prm.scopes_supported;
    if (prm) {
      // The metadata must be about this resource (C6): another origin's would send the user elsewhere.
      if (!coversResource(prm.resource, resource)) {
        throw new SignInError(`The server's resource metadata is about ${prm.resource}, not ${resource}: refused.`);
      }
      // The resource as the server names itself (RFC 9728 §3.3), unless one was configured.
      if (req.resource === undefined) resource = prm.resource;
      issuer = prm.authorization_servers?.[0];
      if (!issuer) throw new SignInError(`${req.serverUrl} names no authorization server.`);
    } else issuer = new URL(req.serverUrl).origin;
  }
  let metadata: AuthorizationServerMetadata;
  if (req.endpoints) {
    // A plain OAuth 2.0 server without metadata: the endpoints given, PKCE S256 sent regardless.
    issuer ??= new URL(req.endpoints.authorizationUrl).origin;
    metadata = checkAuthorizationServer(issuer, {
      issuer,
      authorization_endpoint: req.endpoints.authorizationUrl,
      token_endpoint: req.endpoints.tokenUrl,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
    });
  } else {
    if (!secureOrLoopback(issuer!)) throw new SignInError(`The issuer ${issuer} is not an https URL: refused.`);
    metadata = checkAuthorizationServer(issuer!, await discoverAuthorizationServerMetadata(issuer!, { fetchFn }));
  }
  const asIssuer = issuer!;
  // SEP-2207: a client that wants a refresh token asks for offline_access where the server lists it (and only there).
  if (scopes.length > 0 && metadata.scopes_supported?.includes('offline_access') && !scopes.includes('offline_access')) scopes = [...scopes, 'offline_access'];
  // Client identity: configured, else the published document where the server takes one, else a registration.
  const published = !req.client && req.clientMetadataUrl && (metadata as { client_id_metadata_document_supported?: unknown }).client_id_metadata_document_supported === true ? req.clientMetadataUrl : undefined;
  // A client registered earlier is only ever used with the issuer it was registered at (C9).
  const reuse = !req.client && !published && req.registered?.issuer === asIssuer ? req.registered : undefined;
  // A client registered beforehand (or published) was registered with a known callback: /callback on
  // 127.0.0.1, any port (RFC 8252 §7.3) unless its settings name one.
  const fixed =
    req.client
      ? new URL(req.client.redirectUri ?? `http://127.0.0.1${PUBLISHED_CALLBACK_PATH}`)
      : published
        ? new URL(`http://127.0.0.1${PUBLISHED_CALLBACK_PATH}`)
        : reuse
          ? new URL(`http://127.0.0.1${reuse.redirectPath}`)
          : undefined;
  const state = randomBytes(24).toString('base64url');
  const callback = await openLoopbackCallback(
    { state, issuer: asIssuer, issParameterSupported: (metadata as { authorization_response_iss_parameter_supported?: unknown }).authorization_response_iss_parameter_supported === true },
    { ...(req.callbackPort !== undefined ? { port: req.callbackPort } : fixed?.port ? { port: Number(fixed.port) } : {}), ...(req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : {}), ...(fixed ? { path: fixed.pathname } : {}) },
  );
  const onAbort = () => callback.cancel();
  req.signal?.addEventListener('abort', onAbort, { once: true });
  const issuerUrl = asIssuer;
  try {
    let client: OAuthClientInformationMixed;
    let registration: SignInResult['registration'];
    if (req.client) client = { client_id: req.client.clientId, ...(req.client.clientSecret ? { client_secret: req.client.clientSecret } : {}) };
    else if (published) client = { client_id: published };
    else if (reuse) client = reuse.client;
    else {
      if (!metadata.registration_endpoint) throw new SignInError(`${issuer} offers no dynamic client registration: give a client id.`);
      // A native public client with the refresh grant (RFC 8252), for exactly this redirect URI.
      client = await registerClient(issuerUrl, {
        metadata,
        clientMetadata: {
          client_name: 'Gatehouse',
          redirect_uris: [callback.redirectUri],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: 'none',
          application_type: 'native',
        } as Parameters<typeof registerClient>[1]['clientMetadata'],
        fetchFn,
      });
      registration = { issuer: issuerUrl, client, redirectPath: new URL(callback.redirectUri).pathname };
    }
    const { authorizationUrl, codeVerifier } = await startAuthorization(issuerUrl, {
      metadata,
      clientInformation: client,
      redirectUrl: callback.redirectUri,
      state,
      // As a string: sent exactly as published (a URL object would add a / to a pathless one).
      resource,
      ...(scopes.length ? { scope: scopes.join(' ') } : {}),
    });
    if (!secureOrLoopback(authorizationUrl.href)) throw new SignInError('The authorization URL is not an https URL: refused.');
    await req.openUrl(authorizationUrl.href);
    const { code } = await callback.result;
    const tokens = await exchangeAuthorization(issuerUrl, { metadata, clientInformation: client, authorizationCode: code, codeVerifier, redirectUri: callback.redirectUri, resource, fetchFn });
    return { issuer: issuerUrl, metadata, client, tokens, resource, requestedScopes: scopes, ...(registration ? { registration } : {}) };
  } catch (err) {
    callback.cancel();
    if (err instanceof LoginError || err instanceof SignInError) throw err;
    // A client registered earlier that the server no longer knows: forget it, the next sign-in registers again.
    if (reuse && (err as { errorCode?: string }).errorCode === 'invalid_client') throw new SignInError(`${issuerUrl} no longer knows Gatehouse's registration (invalid_client): sign in again to register anew.`, { cause: 'invalid_client' });
    throw new SignInError(`The sign-in at ${issuerUrl} failed: ${(err as Error).message}`);
  } finally {
    req.signal?.removeEventListener('abort', onAbort);
  }
}
