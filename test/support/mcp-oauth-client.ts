import http from 'node:http';
import type net from 'node:net';
import { auth, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { Browser } from 'playwright-core';
import { allowAndSignInUpstream } from './idp-login.js';
import { registerTestSecret } from './leak-registry.js';

/** An MCP client's loopback redirect listener: one code per sign-in, and a page saying so. */
export async function loopbackListener(): Promise<{ url: string; next(): Promise<URL>; close(): Promise<void> }> {
  let waiting: ((u: URL) => void) | undefined;
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (u.pathname !== '/callback') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><html lang="en"><title>Done</title><h1>Back in the client</h1></html>');
    waiting?.(u);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/callback`,
    next: () => new Promise((resolve) => (waiting = resolve)),
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** The MCP SDK's OAuth client provider, in memory; the "system browser" is a Chromium page. */
export class TestClientProvider implements OAuthClientProvider {
  info: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = '';
  constructor(
    readonly redirectUrl: string,
    private readonly name: string,
    private readonly open: (url: URL) => Promise<void>,
  ) {}
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: this.name, redirect_uris: [this.redirectUrl], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(i: OAuthClientInformationMixed) {
    this.info = i;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(t: OAuthTokens) {
    this.saved = t;
  }
  redirectToAuthorization(url: URL) {
    return this.open(url);
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
}


/**
 * An MCP client signed in through Gatehouse's authorization server for a server, as a user would: the
 * SDK's auth() with a real loopback redirect, and in a browser context of the user's own (no session
 * of another user to reuse) Gatehouse's consent page, then the upstream's login as `login`. The
 * tokens it got are registered with the leak scan.
 */
export async function signInThroughGatehouse(browser: Browser, serverUrl: string, opts: { login: string; clientName: string }): Promise<TestClientProvider> {
  const cb = await loopbackListener();
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    const client = new TestClientProvider(cb.url, opts.clientName, (url) => allowAndSignInUpstream(page, url, { login: opts.login }));
    const code = cb.next();
    if ((await auth(client, { serverUrl })) !== 'REDIRECT') throw new Error('auth() did not send the user to sign in');
    const back = await code;
    if ((await auth(client, { serverUrl, authorizationCode: back.searchParams.get('code')! })) !== 'AUTHORIZED') throw new Error('auth() did not end AUTHORIZED');
    registerTestSecret(`gatehouse access token (${opts.login} at ${serverUrl})`, client.saved!.access_token);
    if (client.saved!.refresh_token) registerTestSecret(`gatehouse refresh token (${opts.login} at ${serverUrl})`, client.saved!.refresh_token);
    return client;
  } finally {
    await cb.close();
    await context.close();
  }
}
