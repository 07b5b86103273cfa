// Loopback OAuth logins that Gatehouse performs for desktop clients and remote servers (issue 13).
export { openLoopbackCallback, LoginError, type CallbackExpectation, type LoginErrorKind, type LoopbackCallback, type LoopbackOptions } from './loopback-callback.js';
export { isBrowserRestrictedPort } from './restricted-ports.js';
export { checkAuthorizationServer, coversResource, signIn, SignInError, type SignInRequest, type SignInResult } from './sign-in.js';
export { OAuthTokenStore, RefreshRetryError, SignInRequiredError, type SignInStatus, type StoredRegistration, type TokenStoreOptions } from './token-store.js';
