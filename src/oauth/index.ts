// Loopback OAuth logins that Gatehouse performs for desktop clients and remote servers (issue 13).
export { openLoopbackCallback, LoginError, type CallbackExpectation, type LoginErrorKind, type LoopbackCallback, type LoopbackOptions } from './loopback-callback.js';
export { isBrowserRestrictedPort } from './restricted-ports.js';
export { checkAuthorizationServer, coversResource, signIn, SignInError, type SignInRequest, type SignInResult } from './sign-in.js';
export { OAuthTokenStore, RefreshRetryError, SignInRequiredError, type SignInStatus, type StoredRegistration, type TokenStoreOptions } from './token-store.js';
export { parseTokenExchangeSettings, storedTokenExchange, TOKEN_TYPES, TokenExchangeSettingsError, type ExchangeSecret, type TokenExchangeSettings, type TokenTypeUrn } from './token-exchange-settings.js';
export { TokenExchangeError, TokenExchanger, type ExchangeFailure, type TokenExchangerDeps } from './token-exchange.js';
