import type { Command } from 'commander';

// The authentication flags as commander declares them, and their usage error: what every command
// loads. What the flags mean (src/auth's parsers, jose, yaml) is in auth-flags.ts, loaded on use.

export interface AuthFlags {
  oidcIssuer?: string;
  oidcAudience?: string;
  oidcJwksUrl?: string;
  oidcClientId?: string;
  oidcClientSecret?: string;
  oidcIntrospectionUrl?: string;
  resourceUrl?: string;
  oidcScopes?: string;
  idp?: string;
  oidcConfig?: string;
  k8sServiceAccount?: string;
  k8sNamespace?: string;
  oidcInsecureAllowHttp?: boolean;
  jwksAllowPrivateIp?: boolean;
}

/** ToolHive's authentication flags (plus --idp, --oidc-config and the Kubernetes pair), on any command. */
export function addAuthOptions(cmd: Command): Command {
  return cmd
    .option('--oidc-issuer <url>', 'OIDC issuer whose tokens are accepted')
    .option('--oidc-audience <aud>', 'required audience (default: this server\'s own URL)')
    .option('--oidc-jwks-url <url>', 'JWKS URL (default: found by OIDC discovery)')
    .option('--oidc-client-id <id>', 'client id (for introspection)')
    .option('--oidc-client-secret <name>', 'NAME of a keychain secret holding the client secret (never the value)')
    .option('--oidc-introspection-url <url>', 'RFC 7662 endpoint for opaque tokens')
    .option('--resource-url <url>', 'the public URL of this MCP endpoint (protected resource metadata)')
    .option('--oidc-scopes <scopes>', 'scopes to advertise, comma or space separated')
    .option('--oidc-insecure-allow-http', 'allow an http:// issuer that is not on this machine')
    .option('--jwks-allow-private-ip', 'allow discovery, JWKS and introspection on private addresses')
    .option('--idp <name>', 'use a shared identity-provider profile (gatehouse idp add)')
    .option('--oidc-config <file>', "a ToolHive oidcConfig block (YAML or JSON, or an MCPServer manifest)")
    .option('--k8s-service-account <name>', 'accept only this Kubernetes service account (with --k8s-namespace)')
    .option('--k8s-namespace <ns>', 'namespace of --k8s-service-account');
}

export class AuthFlagError extends Error {}

let loaded: typeof import('./auth-flags.js') | undefined;

/** auth-flags.ts (authConfigFromFlags, idpProfileFromFlags), loaded by the commands that need it. */
export async function loadAuthFlags(): Promise<typeof import('./auth-flags.js')> {
  return (loaded ??= await import('./auth-flags.js'));
}

/** A mistake in the authentication flags or the files they name (exit 2). Loads nothing. */
export function isAuthUsageError(err: unknown): boolean {
  return err instanceof AuthFlagError || (loaded?.isAuthConfigFormatError(err) ?? false);
}
