import { z } from 'zod';

/**
 * Authentication settings in ToolHive's shapes (the operator's `oidcConfig` block and the `thv run --oidc-*`
 * flags), so an existing block works unchanged. A `configMap` reference names a shared identity-provider
 * profile stored once in Gatehouse (the laptop form of the operator's ConfigMap).
 */
const url = z.string().url();
const scopes = z.union([z.array(z.string().min(1)), z.string().transform((s) => s.split(/[\s,]+/).filter(Boolean))]);

export const OidcInlineSchema = z
  .object({
    issuer: url,
    audience: z.string().min(1).optional(),
    jwksUrl: url.optional(),
    clientId: z.string().min(1).optional(),
    /** The name of a keychain secret holding the client secret (used for introspection), never the value. */
    clientSecret: z.string().min(1).optional(),
    introspectionUrl: url.optional(),
    resourceUrl: url.optional(),
    scopes: scopes.optional(),
    /** Seconds of clock skew tolerated on exp/nbf/iat. */
    clockToleranceSeconds: z.number().int().min(0).max(300).optional(),
    /** Allow http:// for a non-loopback issuer (ToolHive's --oidc-insecure-allow-http). */
    insecureAllowHttp: z.boolean().optional(),
    /** Allow JWKS, discovery and introspection URLs on private or link-local addresses (ToolHive's --jwks-allow-private-ip). */
    jwksAllowPrivateIp: z.boolean().optional(),
  })
  .passthrough();
export type OidcInline = z.infer<typeof OidcInlineSchema>;

export const KubernetesAuthSchema = z
  .object({
    serviceAccount: z.string().min(1),
    namespace: z.string().min(1),
    audience: z.string().min(1).optional(),
    issuer: url.optional(),
    jwksUrl: url.optional(),
    clockToleranceSeconds: z.number().int().min(0).max(300).optional(),
    insecureAllowHttp: z.boolean().optional(),
    jwksAllowPrivateIp: z.boolean().optional(),
  })
  .passthrough();
export type KubernetesAuth = z.infer<typeof KubernetesAuthSchema>;

export const AuthConfigSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }),
  z.object({ type: z.literal('inline'), inline: OidcInlineSchema }),
  z.object({ type: z.literal('configMap'), configMap: z.object({ name: z.string().min(1), key: z.string().optional() }) }),
  z.object({ type: z.literal('kubernetes'), kubernetes: KubernetesAuthSchema }),
]);
export type AuthConfig = z.infer<typeof AuthConfigSchema>;

/** Kubernetes defaults, as the operator's examples use them. */
export const KUBERNETES_DEFAULTS = {
  issuer: 'https://kubernetes.default.svc',
  jwksUrl: 'https://kubernetes.default.svc/openid/v1/jwks',
  audience: 'toolhive',
} as const;

/**
 * What the validator needs, after resolving profiles and defaults: one shape for every auth type.
 */
export interface EffectiveAuth {
  issuer: string;
  audience: string;
  jwksUrl?: string;
  clientId?: string;
  clientSecretRef?: string;
  introspectionUrl?: string;
  resourceUrl: string;
  scopes: string[];
  clockToleranceSeconds: number;
  insecureAllowHttp: boolean;
  allowPrivateIp: boolean;
  /** Only this subject is accepted (Kubernetes service accounts). */
  requiredSubject?: string;
}

export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;

/** A server refers to a shared identity-provider profile that is not there. */
export class MissingProfileError extends Error {
  readonly hint: { action: 'add-idp'; profile: string };
  constructor(readonly profile: string) {
    super(`Identity provider profile "${profile}" does not exist.`);
    this.hint = { action: 'add-idp', profile };
  }
}

/**
 * Resolves a server's auth settings into what the proxy enforces. The resource URL defaults to the
 * server's own MCP URL, and the audience to the resource URL: each server then has its own audience,
 * so a token minted for one server is refused by every other (MCP's audience binding, RFC 8707).
 */
export function effectiveAuth(config: AuthConfig, serverUrl: string, profiles: (name: string) => OidcInline | undefined): EffectiveAuth | undefined {
  switch (config.type) {
    case 'none':
      return undefined;
    case 'inline':
    case 'configMap': {
      const inline = config.type === 'inline' ? config.inline : profiles(config.configMap.name);
      if (!inline) {
        throw new MissingProfileError(config.type === 'configMap' ? config.configMap.name : '');
      }
      const resourceUrl = inline.resourceUrl ?? serverUrl;
      return {
        issuer: inline.issuer,
        audience: inline.audience ?? resourceUrl,
        jwksUrl: inline.jwksUrl,
        clientId: inline.clientId,
        clientSecretRef: inline.clientSecret,
        introspectionUrl: inline.introspectionUrl,
        resourceUrl,
        scopes: inline.scopes ?? [],
        clockToleranceSeconds: inline.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS,
        insecureAllowHttp: inline.insecureAllowHttp ?? false,
        allowPrivateIp: inline.jwksAllowPrivateIp ?? false,
      };
    }
    case 'kubernetes': {
      const k = config.kubernetes;
      return {
        issuer: k.issuer ?? KUBERNETES_DEFAULTS.issuer,
        audience: k.audience ?? KUBERNETES_DEFAULTS.audience,
        jwksUrl: k.jwksUrl ?? (k.issuer ? undefined : KUBERNETES_DEFAULTS.jwksUrl),
        resourceUrl: serverUrl,
        scopes: [],
        clockToleranceSeconds: k.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS,
        insecureAllowHttp: k.insecureAllowHttp ?? false,
        allowPrivateIp: k.jwksAllowPrivateIp ?? false,
        requiredSubject: `system:serviceaccount:${k.namespace}:${k.serviceAccount}`,
      };
    }
  }
}
