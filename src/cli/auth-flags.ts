import fs from 'node:fs';
import { AuthConfigFormatError, parseAuthConfigDocument, parseIdpProfileDocument } from '../auth/index.js';
import { AuthFlagError, type AuthFlags } from './auth-options.js';

// The flags' meaning, which needs src/auth's parsers: loaded by the commands that take the flags
// (through loadAuthFlags), not by every command (the flags themselves are declared in auth-options.ts).
export { addAuthOptions, AuthFlagError, type AuthFlags } from './auth-options.js';

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

/** An --oidc-config or --from-file document that is not ToolHive's format (a usage error). */
export function isAuthConfigFormatError(err: unknown): boolean {
  return err instanceof AuthConfigFormatError;
}
