import { randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { messagePage } from '../common/index.js';
import { isBrowserRestrictedPort } from './restricted-ports.js';

/** What the authorization response must carry to be believed (RFC 6749 state, RFC 9207 iss). */
export interface CallbackExpectation {
  state: string;
  /** The authorization server's issuer, exactly as its metadata says it. */
  issuer: string;
  /** The metadata's `authorization_response_iss_parameter_supported`. */
  issParameterSupported: boolean;
}

export type LoginErrorKind = 'denied' | 'authorization-error' | 'issuer-mismatch' | 'timeout' | 'cancelled' | 'port-busy' | 'port-refused';

export class LoginError extends Error {
  constructor(
    readonly kind: LoginErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export interface LoopbackCallback {
  /** Where the authorization server sends the browser back: 127.0.0.1, an unguessable path. */
  redirectUri: string;
  /** The authorization code, once a response with the right state (and issuer) arrived. */
  result: Promise<{ code: string }>;
  /** Cancels the wait (the result rejects with `cancelled`) and closes the listener. */
  cancel(): void;
}

export interface LoopbackOptions {
  /** A fixed port (ToolHive's --remote-auth-callback-port); default: any free one. */
  port?: number;
  /** Default 5 minutes. */
  timeoutMs?: number;
  /**
   * A fixed path, for a client registered beforehand with its redirect URI (RFC 8252 lets the port vary,
   * not the path); default: an unguessable one, for clients registered for this login.
   */
  path?: string;
}

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
};

function page(res: http.ServerResponse, status: number, title: string, text: string): void {
  res.writeHead(status, PAGE_HEADERS);
  res.end(messagePage(title, text));
}

const same = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/**
 * A one-shot listener for a loopback OAuth redirect (RFC 8252 §7.3), bound to 127.0.0.1 only. It answers
 * GET on one random path; responses without the expected `state` are ignored (the wait goes on, so a
 * stray or forged request cannot end a login); `iss` is checked as RFC 9207 says, exactly, before
 * anything in the response is acted on. After the answer, or the timeout, it closes.
 */
export async function openLoopbackCallback(expect: CallbackExpectation, opts: LoopbackOptions = {}): Promise<LoopbackCallback> {
  if (opts.port !== undefined && isBrowserRestrictedPort(opts.port)) {
    throw new LoginError('port-refused', `Port ${opts.port} is one browsers refuse to open; choose another callback port.`);
  }
  if (opts.path !== undefined && !/^\/[A-Za-z0-9._~\/-]*$/.test(opts.path)) throw new TypeError(`Not a callback path: ${opts.path}`);
  const path = opts.path ?? `/callback/${randomBytes(16).toString('base64url')}`;
  let settle: { resolve: (v: { code: string }) => void; reject: (e: LoginError) => void } | undefined;
  const result = new Promise<{ code: string }>((resolve, reject) => (settle = { resolve, reject }));
  result.catch(() => {}); // a caller that cancels need not also listen
  let port = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.headers.host !== `127.0.0.1:${port}` || url.pathname !== path) return page(res, 404, 'Not found', 'Nothing here.');
    if (req.method !== 'GET') {
      res.setHeader('allow', 'GET');
      return page(res, 405, 'Method not allowed', 'The sign-in answer comes as a GET.');
    }
    const one = (name: string): string | undefined | null => {
      const all = url.searchParams.getAll(name);
      return all.length > 1 ? null : all[0];
    };
    const [state, iss, code, error] = [one('state'), one('iss'), one('code'), one('error')];
    if (state === null || iss === null || code === null || error === null) return page(res, 400, 'Not a sign-in answer', 'A parameter appears twice.');
    if (state === undefined || !same(state, expect.state)) {
      return page(res, 400, 'Not this sign-in', 'This answer does not belong to the sign-in in progress; it was ignored.');
    }
    // RFC 9207: compare exactly when present; when the server says it sends iss, it must be there.
    if ((iss === undefined && expect.issParameterSupported) || (iss !== undefined && iss !== expect.issuer)) {
      page(res, 400, 'Sign-in stopped', 'The answer did not come from the expected authorization server. Nothing was signed in.');
      return finish(new LoginError('issuer-mismatch', `The answer came from ${iss === undefined ? 'a server that did not say who it is' : JSON.stringify(iss)}, not ${JSON.stringify(expect.issuer)}: the sign-in was stopped.`), res);
    }
    if (error !== undefined) {
      const denied = error === 'access_denied';
      const detail = url.searchParams.get('error_description')?.slice(0, 300);
      page(res, 400, denied ? 'Sign-in declined' : 'Sign-in failed', denied ? 'Nothing was signed in. You can close this tab.' : `The authorization server answered ${error}. You can close this tab.`);
      return finish(new LoginError(denied ? 'denied' : 'authorization-error', denied ? 'The sign-in was declined.' : `The authorization server answered ${error}${detail ? `: ${detail}` : ''}.`), res);
    }
    if (code === undefined || code === '') {
      page(res, 400, 'Sign-in failed', 'The answer carries no authorization code. You can close this tab.');
      return finish(new LoginError('authorization-error', 'The answer carries no authorization code.'), res);
    }
    page(res, 200, 'Signed in', 'Gatehouse has what it needs. You can close this tab.');
    finish({ code }, res);
  });
  server.requestTimeout = 10_000;
  const timer = setTimeout(() => finish(new LoginError('timeout', `No sign-in answer within ${Math.round((opts.timeoutMs ?? 300_000) / 1000)} s.`)), opts.timeoutMs ?? 300_000);
  timer.unref();
  /** Settles the login once; the listener closes at once, or after `res` (the answer's page) went out. */
  function finish(outcome: { code: string } | LoginError, res?: http.ServerResponse): void {
    if (!settle) return;
    const s = settle;
    settle = undefined;
    clearTimeout(timer);
    server.close();
    const drop = () => server.closeAllConnections();
    if (res && !res.writableFinished) res.once('finish', drop);
    else drop();
    if (outcome instanceof LoginError) s.reject(outcome);
    else s.resolve(outcome);
  }
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(err.code === 'EADDRINUSE' ? new LoginError('port-busy', `Port ${opts.port} on 127.0.0.1 is in use; free it or choose another callback port.`) : err);
      };
      server.once('error', onError);
      server.listen(opts.port ?? 0, '127.0.0.1', () => {
        server.off('error', onError);
        resolve();
      });
    });
  await listen();
  port = (server.address() as AddressInfo).port;
  // A port the system picked may still be one browsers refuse (low ephemeral ranges): pick again.
  for (let tries = 0; isBrowserRestrictedPort(port) && tries < 5; tries++) {
    await new Promise<void>((r) => server.close(() => r()));
    await listen();
    port = (server.address() as AddressInfo).port;
  }
  return {
    redirectUri: `http://127.0.0.1:${port}${path}`,
    result,
    cancel: () => finish(new LoginError('cancelled', 'The sign-in was cancelled.')),
  };
}
