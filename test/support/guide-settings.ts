/**
 * The guide's MCPExternalAuthConfig (toolhive-docs, "Create the MCPExternalAuthConfig resource") as its
 * YAML is written, with this machine's identity provider in place of its Okta and no keys (Gatehouse's own).
 */
export function guideEmbeddedAuthConfig(o: { issuer: string; upstreamName: string; upstreamIssuer: string; clientId: string; scopes: string[] }): string {
  return `apiVersion: toolhive.stacklok.dev/v1alpha1
kind: MCPExternalAuthConfig
metadata:
  name: embedded-auth-server
  namespace: toolhive-system
spec:
  type: embeddedAuthServer
  embeddedAuthServer:
    issuer: '${o.issuer}'
    tokenLifespans:
      accessTokenLifespan: '1h'
      refreshTokenLifespan: '168h'
      authCodeLifespan: '10m'
    upstreamProviders:
      - name: ${o.upstreamName}
        type: oidc
        oidcConfig:
          issuerUrl: '${o.upstreamIssuer}'
          clientId: '${o.clientId}'
          clientSecretRef:
            name: upstream-idp-secret
            key: client-secret
          scopes:
${o.scopes.map((s) => `            - ${s}`).join('\n')}
`;
}
