/**
 * The Electron window's origin and what may leave it. The window loads the built app from a custom
 * scheme, `app://gatehouse/`, rather than from file://: a file:// page has an opaque origin shared with
 * every other file on the disk (so neither 'self' in the CSP nor a check of the IPC sender can tell our
 * page from another local file), it can name any path, and no response headers can be set. The custom
 * scheme (registered standard and secure) gives a real origin of our own, is served from dist-renderer/
 * only, and carries the same CSP and security headers as the app served over HTTP.
 */

export const APP_SCHEME = 'app';
export const APP_HOST = 'gatehouse';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
/** What the window loads first. */
export const APP_START_URL = `${APP_ORIGIN}/index.html`;

function parse(url: string | undefined): URL | undefined {
  if (typeof url !== 'string' || url === '') return undefined;
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/** A URL of the app itself (any path or fragment under app://gatehouse/). */
export function isAppUrl(url: string | undefined): boolean {
  const u = parse(url);
  return u !== undefined && u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST && u.username === '' && u.password === '';
}

/**
 * Whether an IPC message may reach the core: only from a frame showing the app, and only its top
 * frame (the app has no frames; anything framed or navigated away is not ours to answer).
 */
export function isTrustedSender(frame: { url: string; isTopFrame: boolean } | null | undefined): boolean {
  return frame !== null && frame !== undefined && frame.isTopFrame && isAppUrl(frame.url);
}

export type NavigationDecision = { action: 'allow' } | { action: 'deny' } | { action: 'open-external'; url: string };

/** Only http(s) goes to the user's browser: never file:, javascript:, a custom handler, a local app. */
export function externalUrl(url: string | undefined): string | undefined {
  const u = parse(url);
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '') return undefined;
  return u.href;
}

/**
 * A navigation of the window (`will-navigate`, `will-redirect`): the app's own pages stay in it; an
 * http(s) link opens in the user's browser instead; everything else is refused.
 */
export function navigationDecision(url: string): NavigationDecision {
  if (isAppUrl(url)) return { action: 'allow' };
  const external = externalUrl(url);
  return external !== undefined ? { action: 'open-external', url: external } : { action: 'deny' };
}

/** `window.open` and target=_blank: never a second Electron window; http(s) opens in the browser. */
export function windowOpenDecision(url: string): NavigationDecision {
  const external = externalUrl(url);
  return external !== undefined ? { action: 'open-external', url: external } : { action: 'deny' };
}

/** The window at a page of the app: `#/servers/<name>` for one server (a notification's click). */
export function appPageUrl(page: { server?: string } = {}): string {
  return page.server !== undefined ? `${APP_START_URL}#/servers/${encodeURIComponent(page.server)}` : APP_START_URL;
}

/**
 * Web permissions the window may use: writing to the clipboard ("Copy URL", copying log lines) from
 * the app itself, nothing else (no camera, microphone, location, notifications from the page, ...).
 */
export function permissionAllowed(permission: string, requestingUrl: string | undefined): boolean {
  return permission === 'clipboard-sanitized-write' && isAppUrl(requestingUrl);
}
