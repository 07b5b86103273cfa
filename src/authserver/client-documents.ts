import dns from 'node:dns';
import { addressScope } from '../common/index.js';

/**
 * Where Client ID Metadata Documents come from (draft-ietf-oauth-client-id-metadata-document): the
 * client_id is an https URL the authorization server fetches. Production resolves and fetches for real;
 * tests hand in their own network (this machine has no other to reach).
 */
export interface ClientDocumentNetwork {
  /** Every address a host name resolves to. */
  lookup(host: string): Promise<string[]>;
  /** oidc-provider's fetch (its options carry a 2.5 s timeout, no redirects, and a dispatcher that drops special-use peers). */
  fetch(url: string | URL, init: RequestInit): Promise<Response>;
}

export const realClientDocumentNetwork: ClientDocumentNetwork = {
  lookup: async (host) => (await dns.promises.lookup(host, { all: true, verbatim: true })).map((a) => a.address),
  fetch: (url, init) => globalThis.fetch(url, init),
};

/**
 * Why a client's metadata document may not be fetched (SSRF, checklist row B23), or undefined. The
 * host must be a public address, or a name whose every address is public, before any packet is sent:
 * oidc-provider's own check only fires once a connection to the peer is open.
 */
export async function refusedClientDocument(clientId: string, network: ClientDocumentNetwork): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    return 'the client_id is not a URL';
  }
  if (url.protocol !== 'https:') return 'a client_id document is served over https';
  const host = url.hostname;
  const literal = addressScope(host);
  if (literal !== undefined) return literal === 'public' ? undefined : `${host} is not a public address`;
  let addresses: string[];
  try {
    addresses = await network.lookup(host);
  } catch (err) {
    return `${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
  if (addresses.length === 0) return `${host} does not resolve`;
  const inner = addresses.find((a) => addressScope(a) !== 'public');
  return inner ? `${host} resolves to ${inner}, which is not a public address` : undefined;
}
