import { z } from 'zod';

/**
 * How Gatehouse reaches and signs in to a remote MCP server: ToolHive's remote auth flags as settings
 * (`--remote-auth-*`, `--remote-forward-headers`). Secrets are named (keychain secrets), never held here.
 * Browser-safe (the app's add form and the API contract use it).
 */
const HeaderName = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'a header name (letters, digits and -)');
/** Headers Gatehouse never lets a setting write: credentials have their own settings, the rest is the proxy's. */
const RESERVED_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'host', 'content-length', 'content-type', 'transfer-encoding', 'connection', 'mcp-session-id', 'mcp-protocol-version', 'mcp-method', 'mcp-name']);

export const ForwardHeaderSchema = z
  .object({ name: HeaderName, value: z.string().max(4096).optional(), secret: z.string().min(1).max(128).optional() })
  .strict()
  .refine((h) => (h.value === undefined) !== (h.secret === undefined), 'give a value or a secret, not both')
  .refine((h) => !RESERVED_HEADERS.has(h.name.toLowerCase()) && !h.name.toLowerCase().startsWith('mcp-'), 'this header is the proxy\'s own (credentials have their own settings)');

export const RemoteSettingsSchema = z
  .object({
    /** --remote-auth: sign in with OAuth; the authorization server is found from the server's 401 unless given. */
    oauth: z.boolean().default(false),
    issuer: z.string().url().optional(),
    authorizeUrl: z.string().url().optional(),
    tokenUrl: z.string().url().optional(),
    clientId: z.string().min(1).max(512).optional(),
    /** A keychain secret holding the client secret (confidential clients). */
    clientSecret: z.string().min(1).max(128).optional(),
    /**
     * Where Gatehouse's client metadata document is published (a Client ID Metadata Document: https, with a
     * path). Used as the client id by authorization servers that support them; others get a registration.
     */
    clientMetadataUrl: z
      .string()
      .url()
      .refine((u) => /^https:\/\/[^/]+\/./.test(u) && !u.includes('#'), 'a client metadata document URL is https, with a path and no #fragment')
      .optional(),
    scopes: z.array(z.string().min(1).max(256)).max(64).optional(),
    /** Only show the sign-in URL, never open a browser. */
    skipBrowser: z.boolean().default(false),
    /** How long a sign-in waits for the browser (default 5 minutes). */
    timeoutMs: z.number().int().min(5_000).max(3_600_000).optional(),
    /** A fixed callback port (for clients registered with one); otherwise a free port is chosen. */
    callbackPort: z.number().int().min(1024).max(65535).optional(),
    /** RFC 8707 resource (default: the server's URL). */
    resource: z.string().url().optional(),
    /** A keychain secret sent as `Authorization: Bearer` (static credentials; no sign-in). */
    bearerToken: z.string().min(1).max(128).optional(),
    /** Headers added to every request toward the server (--remote-forward-headers). */
    forwardHeaders: z.array(ForwardHeaderSchema).max(32).optional(),
    /** The server (or its authorization server) is on a private or link-local address: an explicit allow. */
    allowPrivateIp: z.boolean().default(false),
  })
  .strict()
  .refine((r) => !(r.oauth && r.bearerToken), 'use OAuth or a bearer token, not both')
  .refine((r) => (r.authorizeUrl === undefined) === (r.tokenUrl === undefined), 'the authorize URL and the token URL go together')
  .refine((r) => r.oauth || (r.issuer ?? r.authorizeUrl ?? r.clientId ?? r.clientSecret ?? r.clientMetadataUrl ?? r.scopes ?? r.resource) === undefined, 'the sign-in settings need OAuth turned on (--remote-auth)');

export type RemoteSettings = z.infer<typeof RemoteSettingsSchema>;
export type RemoteSettingsInput = z.input<typeof RemoteSettingsSchema>;

/** The kind of credential the proxy adds toward the server. */
export function remoteCredentialKind(r: RemoteSettings): 'oauth' | 'bearer' | 'none' {
  return r.oauth ? 'oauth' : r.bearerToken ? 'bearer' : 'none';
}
