import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';

/** The app's pages allow only their own origin: no inline script, no CDN, no framing. */
export const APP_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

/**
 * Where the app's page carries its style nonce: CodeMirror mounts its styles as a <style> element,
 * which `style-src 'self'` alone refuses; each page load gets a nonce of its own for them.
 */
export const STYLE_NONCE_PLACEHOLDER = '__GATEHOUSE_STYLE_NONCE__';

/** The CSP of an app page whose <style> elements carry this nonce. */
export function appPageCsp(nonce: string): string {
  return APP_CSP.replace("style-src 'self'", `style-src 'self' 'nonce-${nonce}'`);
}

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': APP_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.map': 'application/json',
};

/**
 * The built renderer (`vite build` output), read from one folder only: a path that leaves it, or a
 * file type not listed, is not served. Paths that are no file get index.html (the app routes itself).
 */
export class StaticFiles {
  constructor(readonly dir: string) {}

  available(): boolean {
    return fs.existsSync(path.join(this.dir, 'index.html'));
  }

  /** The file for a URL path with the headers to send it with (shared by the HTTP server and Electron's app:// scheme). */
  read(urlPath: string): { headers: Record<string, string>; body: Buffer } {
    let rel: string;
    try {
      rel = decodeURIComponent(urlPath);
    } catch {
      rel = '/';
    }
    const file = path.resolve(this.dir, `.${path.posix.normalize(rel)}`);
    const inside = file.startsWith(this.dir + path.sep);
    const type = TYPES[path.extname(file)];
    if (inside && type && isFile(file)) return load(file, type, rel.startsWith('/assets/'));
    return load(path.join(this.dir, 'index.html'), TYPES['.html']!, false);
  }

  serve(urlPath: string, res: http.ServerResponse): void {
    const { headers, body } = this.read(urlPath);
    res.writeHead(200, headers);
    res.end(body);
  }
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function load(file: string, type: string, immutable: boolean): { headers: Record<string, string>; body: Buffer } {
  let body = fs.readFileSync(file);
  let csp = APP_CSP;
  if (type === TYPES['.html'] && body.includes(STYLE_NONCE_PLACEHOLDER)) {
    const nonce = randomBytes(18).toString('base64');
    body = Buffer.from(body.toString('utf8').replaceAll(STYLE_NONCE_PLACEHOLDER, nonce));
    csp = appPageCsp(nonce);
  }
  return {
    body,
    headers: {
      ...SECURITY_HEADERS,
      'content-security-policy': csp,
      'content-type': type,
      'content-length': String(body.length),
      // Vite names assets by their content hash; the page itself always comes fresh.
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-store',
    },
  };
}
