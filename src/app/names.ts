/** Server names end up in container names, URLs and client config keys: keep them boring. */
export const SERVER_NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

export class InvalidNameError extends Error {}

export function assertValidServerName(name: string): void {
  if (!SERVER_NAME_PATTERN.test(name)) {
    throw new InvalidNameError(
      `Invalid server name "${name}": use 1-63 lowercase letters, digits, "-", "_" or ".", starting with a letter or digit.`,
    );
  }
}

/** ghcr.io/org/github-mcp-server:1.2 -> github-mcp-server */
export function nameFromImage(image: string): string {
  const last = image.split('/').at(-1) ?? image;
  const bare = last.split('@')[0]!.split(':')[0]!;
  const cleaned = bare.toLowerCase().replace(/[^a-z0-9_.-]+/g, '-').replace(/^[^a-z0-9]+/, '');
  return cleaned.slice(0, 63) || 'server';
}

/** A remote server's default name: its host without `www.` and `mcp.` (https://mcp.notion.com/mcp → notion-com). */
export function nameFromUrl(raw: string): string {
  let host: string;
  try {
    host = new URL(raw).hostname;
  } catch {
    return 'remote';
  }
  const trimmed = host.replace(/^\[|\]$/g, '').replace(/^(www|mcp)\./, '');
  const cleaned = trimmed.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[^a-z0-9]+/, '').replace(/-+$/, '');
  return cleaned.slice(0, 63) || 'remote';
}
