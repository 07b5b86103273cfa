// Small building blocks several modules share, so none reaches into another folder's internals.
export { isProcessAlive } from './process-alive.js';
export { GenerationalCache } from './generational-cache.js';
export { isEventStream, withEndHook, withOwnSignals, type Fetch } from './own-signal-fetch.js';
export { addressScope, type AddressScope } from './ip-address.js';
export { openInBrowser } from './open-in-browser.js';
export { escapeHtml, messagePage } from './html-page.js';
export { goDurationMs } from './go-duration.js';
export { isLoopbackUrl } from './loopback-url.js';
export { TokenBucket } from './token-bucket.js';
