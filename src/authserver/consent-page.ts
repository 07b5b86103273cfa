import type http from 'node:http';
import { escapeHtml } from '../common/index.js';

/** Headers of every page the authorization server shows: never framed (clickjacking), never cached, no referrer. */
export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
} as const;

export interface ConsentView {
  action: string;
  csrf: string;
  /** What the client calls itself: its own word, shown as such. */
  clientName: string | undefined;
  clientId: string;
  redirectHosts: string[];
  scopes: string[];
  /** The MCP server the token will be for. */
  resource: string | undefined;
  upstream: string;
}

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1b1f24}main{max-width:34rem;margin:3rem auto;background:#fff;border:1px solid #d8dde3;border-radius:8px;padding:1.5rem 2rem}h1{font-size:1.35rem;margin:0 0 1rem}dt{font-weight:600;margin-top:.75rem}dd{margin:0}code{font-size:.95em;word-break:break-all}.warn{background:#fff8e5;border:1px solid #e9c46a;border-radius:6px;padding:.5rem .75rem}.buttons{display:flex;gap:.75rem;margin-top:1.5rem}button{font:inherit;padding:.5rem 1.1rem;border-radius:6px;border:1px solid #8a949e;background:#fff;cursor:pointer}button.primary{background:#1f5fbf;border-color:#1f5fbf;color:#fff}button:focus-visible{outline:3px solid #f0a500;outline-offset:2px}`;

/**
 * The consent page, shown before anyone is sent to the upstream identity provider: which program asks
 * (its name is its own claim; where it gets the answer is not), for which server and which scopes.
 */
export function consentPage(v: ConsentView): string {
  const name = v.clientName ? escapeHtml(v.clientName) : 'A program';
  const list = (items: string[]) => (items.length ? items.map((i) => `<code>${escapeHtml(i)}</code>`).join(', ') : 'none');
  return `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Allow access? — Gatehouse</title><style>${STYLE}</style>
<body><main>
<h1>Allow ${name} to use your MCP server?</h1>
<p class="warn">Only allow programs you started yourself. A program's name is what it says about itself; where the answer goes is below.</p>
<dl>
<dt>Program</dt><dd>${name} <span>(client <code>${escapeHtml(v.clientId)}</code>)</span></dd>
<dt>Gets the answer at</dt><dd>${list(v.redirectHosts)}${v.redirectHosts.length && v.redirectHosts.every((h) => /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(h)) ? ' (a program on this computer)' : ''}</dd>
<dt>MCP server</dt><dd>${v.resource ? `<code>${escapeHtml(v.resource)}</code>` : 'the only one there is'}</dd>
<dt>Permissions</dt><dd>${list(v.scopes)}</dd>
<dt>You sign in at</dt><dd>${escapeHtml(v.upstream)}</dd>
</dl>
<form method="post" action="${escapeHtml(v.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(v.csrf)}">
<div class="buttons"><button class="primary" type="submit" name="decision" value="allow">Allow</button><button type="submit" name="decision" value="deny">Deny</button></div>
</form>
</main></body></html>`;
}

export function sendPage(res: http.ServerResponse, status: number, html: string, formTargets: string[] = []): void {
  // A form's answer is a 303 to the upstream (allow) or to the client (deny): browsers hold redirects
  // after a submission to form-action too, so those origins are named (a loopback one with any port).
  const csp = formTargets.length ? PAGE_HEADERS['content-security-policy'].replace("form-action 'self'", `form-action 'self' ${formTargets.join(' ')}`) : PAGE_HEADERS['content-security-policy'];
  res.writeHead(status, { ...PAGE_HEADERS, 'content-security-policy': csp });
  res.end(html);
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** A CSP source for a redirect target: its origin, any port for a loopback one (RFC 8252 clients pick their port). */
export function formTarget(raw: string): string | undefined {
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return `${u.protocol}`;
    return LOOPBACK_HOSTS.has(u.hostname) ? `${u.protocol}//${u.hostname}:*` : u.origin;
  } catch {
    return undefined;
  }
}

/** A 303 (never 307: a POST's body must not follow, RFC 9700 §4.12). */
export function seeOther(res: http.ServerResponse, location: string): void {
  res.writeHead(303, { location, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
  res.end();
}
