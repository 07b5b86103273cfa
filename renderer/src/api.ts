import { ApiError, createApiClient, httpTransport, ipcTransport, type ErrorHint, type GatehouseBridge } from '../../src/api/browser.js';

/**
 * The core's API: in the Electron window over IPC (the preload's `window.gatehouse`); in the browser
 * over HTTP on the same origin (the session cookie authenticates).
 */
const bridge = (globalThis as { gatehouse?: GatehouseBridge }).gatehouse;
export const api = createApiClient(bridge ? ipcTransport(bridge) : httpTransport({ baseUrl: '' }));

/** An error hint as the app says it (the CLI words the same hints as commands). */
export function hintText(hint: ErrorHint): string {
  switch (hint.action) {
    case 'list-servers':
      return 'See the server list.';
    case 'choose-another-name':
      return 'Choose another name, or remove the existing server first.';
    case 'stop-server':
      return `Stop ${hint.server} first.`;
    case 'start-server':
      return `Start ${hint.server} first.`;
    case 'force':
      return 'Confirm to do it anyway.';
    case 'set-secret':
      return `Set the secret ${hint.secret} on the Secrets page.`;
    case 'add-idp':
      return `Add the identity provider ${hint.profile} on the Identity page.`;
    case 'list-policies':
      return 'See the policy sets.';
    case 'policy-history':
      return `See the versions of ${hint.policySet}.`;
    case 'detach-policy':
      return `Detach it from ${hint.servers.join(', ')} first.`;
    case 'install-client':
      return 'Install the client and open it once, then set it up here.';
    case 'stop-core':
      return 'Quit the other Gatehouse first.';
    case 'retry':
      return 'Try again in a moment.';
    case 'sign-in':
      return `Sign in to ${hint.server} on its page.`;
  }
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.hint ? `${err.message} ${hintText(err.hint)}` : err.message;
  return err instanceof Error ? err.message : String(err);
}
