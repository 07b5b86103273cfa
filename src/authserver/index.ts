// The embedded OAuth 2.1 authorization server (issue 14): MCP clients sign in through Gatehouse to the
// user's identity provider. Settings first; the engine, keys and flow follow.
export { AuthServerSettingsError, parseAuthServerSettings, type AuthServerSettings, type FieldMapping, type Lifespans, type OAuth2Upstream, type OidcUpstream, type SecretSource, type Upstream } from './settings.js';
export { algorithmOf, KeyRing, signingKeyFromPem, type KeyMaterial, type KeyRingDeps, type SigningAlg, type SigningKey } from './keys.js';
export { sealedAdapter, sealedRecords, sweepExpired, type Adapter, type AdapterPayload, type SealedAdapterDeps } from './adapter.js';
export { AUTH_SERVER_PATHS, startAuthServerEngine, tokenClaimsOf, type AuthServerEngine, type AuthServerEngineOptions, type InteractionContext, type GrantLike, type InteractionDetails, type Interactions } from './engine.js';
export { consentPage, PAGE_HEADERS } from './consent-page.js';
export { accountClaims, upstreamRedirectUri, UpstreamInteractions, type Account, type Approval, type TestedIdentity, type UpstreamInteractionsDeps, type UpstreamLogin, type UpstreamTest } from './interactions.js';
export { OidcUpstreamClient, type PendingUpstreamLogin, type UpstreamIdentity } from './upstream-oidc.js';
export { configuredClient, OAuth2UpstreamClient, pathValue, type OAuth2ClientSource } from './upstream-oauth2.js';
export { forgetUpstreamRegistration, issuerOfMetadataUrl, UpstreamRegistrar, UpstreamRegistrationError, type ClientAuthMethod, type UpstreamClientCredentials, type UpstreamRegistrationView } from './upstream-registration.js';
export { requestOrigin, signInStep, type SignInStep, type SignInStepKind, type SignInStepListener } from './steps.js';
export { realClientDocumentNetwork, refusedClientDocument, type ClientDocumentNetwork } from './client-documents.js';
