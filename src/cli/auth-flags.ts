import fs from 'node:fs';
import type { Command } from 'commander';
import { parseAuthConfigDocument, parseIdpProfileDocument } from '../auth/index.js';

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

/** Turns the flags into ToolHive's oidcConfig shape; undefined when no authentication flag was given. */
export function authConfigFromFlags(f: AuthFlags, readFile: (p: string) => string = (p) => fs.readFileSync(p, 'utf8')): unknown {
  const inlineGiven = f.oidcIssuer ?? f.oidcAudience ?? f.oidcJwksUrl ?? f.oidcClientId ?? f.oidcClientSecret ?? f.oidcIntrospectionUrl ?? f.resourceUrl ?? f.oidcScopes;
  const modes = [inlineGiven !== undefined && f.k8sServiceAccount === undefined, f.idp !== undefined, f.oidcConfig !== undefined, f.k8sServiceAccount !== undefined].filter(Boolean).length;
  if (modes > 1) throw new AuthFlagError('Choose one of: --oidc-* flags, --idp, --oidc-config, or --k8s-service-account (with --oidc-issuer/--oidc-jwks-url/--oidc-audience).');
  if (f.oidcConfig !== undefined) {
    let text: string;
    try {
      text = readFile(f.oidcConfig);
    } catch (err) {
      throw new AuthFlagError(`Cannot read --oidc-config ${f.oidcConfig}: ${(err as Error).message}`);
    }
    return parseAuthConfigDocument(text, f.oidcConfig);
  }
  if (f.idp !== undefined) return { type: 'configMap', configMap: { name: f.idp } };
  if (f.k8sServiceAccount !== undefined) {
    if (!f.k8sNamespace) throw new AuthFlagError('--k8s-service-account needs --k8s-namespace.');
    return {
      type: 'kubernetes',
      kubernetes: {
        serviceAccount: f.k8sServiceAccount,
        namespace: f.k8sNamespace,
        ...(f.oidcIssuer ? { issuer: f.oidcIssuer } : {}),
        ...(f.oidcJwksUrl ? { jwksUrl: f.oidcJwksUrl } : {}),
        ...(f.oidcAudience ? { audience: f.oidcAudience } : {}),
        ...(f.oidcInsecureAllowHttp ? { insecureAllowHttp: true } : {}),
        ...(f.jwksAllowPrivateIp ? { jwksAllowPrivateIp: true } : {}),
      },
    };
  }
  if (inlineGiven === undefined) return undefined;
  if (!f.oidcIssuer) throw new AuthFlagError('--oidc-issuer is required with the other --oidc-* flags.');
  return { type: 'inline', inline: inlineFromFlags(f) };
}

export function inlineFromFlags(f: AuthFlags): Record<string, unknown> {
  return {
    issuer: f.oidcIssuer,
    ...(f.oidcAudience ? { audience: f.oidcAudience } : {}),
    ...(f.oidcJwksUrl ? { jwksUrl: f.oidcJwksUrl } : {}),
    ...(f.oidcClientId ? { clientId: f.oidcClientId } : {}),
    ...(f.oidcClientSecret ? { clientSecret: f.oidcClientSecret } : {}),
    ...(f.oidcIntrospectionUrl ? { introspectionUrl: f.oidcIntrospectionUrl } : {}),
    ...(f.resourceUrl ? { resourceUrl: f.resourceUrl } : {}),
    ...(f.oidcScopes ? { scopes: f.oidcScopes.split(/[\s,]+/).filter(Boolean) } : {}),
    ...(f.oidcInsecureAllowHttp ? { insecureAllowHttp: true } : {}),
    ...(f.jwksAllowPrivateIp ? { jwksAllowPrivateIp: true } : {}),
  };
}

/** A profile from `idp add`: a file (ConfigMap manifest or the JSON itself), or the --oidc-* flags. */
export function idpProfileFromFlags(f: AuthFlags & { fromFile?: string; key?: string }, readFile: (p: string) => string = (p) => fs.readFileSync(p, 'utf8')): unknown {
  if (f.fromFile !== undefined) {
    let text: string;
    try {
      text = readFile(f.fromFile);
    } catch (err) {
      throw new AuthFlagError(`Cannot read ${f.fromFile}: ${(err as Error).message}`);
    }
    return parseIdpProfileDocument(text, f.fromFile, f.key);
  }
  if (!f.oidcIssuer) throw new AuthFlagError('Give --from-file FILE, or --oidc-issuer (and the other --oidc-* flags).');
  return inlineFromFlags(f);
}
