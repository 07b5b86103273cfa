/** Quotes a value for an RFC 7235 auth-param (backslash and double quote escaped, controls dropped). */
function quote(v: string): string {
  return `"${v.replace(/[\u0000-\u001f\u007f]/g, '').replace(/(["\\])/g, '\\$1')}"`;
}

/**
 * The Bearer challenge of a 401, built the same way every time: the Bearer scheme first with quoted
 * parameters (SDK clients parse only the first scheme), `resource_metadata` always, `error` only when a
 * token was presented (RFC 6750 §3.1: no error code for a request without credentials).
 */
export function bearerChallenge(p: { realm?: string; resourceMetadata: string; scopes: string[]; error?: string; description?: string }): string {
  const parts = [];
  if (p.realm) parts.push(`realm=${quote(p.realm)}`);
  parts.push(`resource_metadata=${quote(p.resourceMetadata)}`);
  if (p.scopes.length > 0) parts.push(`scope=${quote(p.scopes.join(' '))}`);
  if (p.error) parts.push(`error=${quote(p.error)}`);
  if (p.error && p.description) parts.push(`error_description=${quote(p.description)}`);
  return `Bearer ${parts.join(', ')}`;
}

/** RFC 9728 §3.1: the metadata URL is the resource's origin + /.well-known/oauth-protected-resource + its path. */
export function resourceMetadataUrl(resourceUrl: string): string {
  const u = new URL(resourceUrl);
  const path = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
  return `${u.origin}/.well-known/oauth-protected-resource${path}`;
}
