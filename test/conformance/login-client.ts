// Gatehouse as the client of the MCP conformance suite's authorization scenarios.
//
// The harness starts a mock MCP server and authorization server per scenario and runs a "client
// command" with the server's URL. Here that command is test/conformance/relay-client.sh, which hands
// the scenario to this test process over loopback HTTP; the test then does what a user does with a
// real Gatehouse core: adds the URL as a remote server with OAuth, signs in (the core opens the
// "system browser", here a headless one that follows the authorization server's redirect into
// Gatehouse's loopback listener), and calls the server's tools through Gatehouse's local proxy with
// the real MCP SDK client. When the proxy says a sign-in is needed (a migrated authorization server,
// a step-up for more scope), the user signs in again, as the app and the tray offer.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
// The SDK's v2 client: it speaks both wire eras (the 2026-07-28 scenarios' servers answer nothing else).
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { z } from 'zod';
import type { ApiClient } from '../../src/api/index.js';
import type { RemoteSettingsInput } from '../../src/remote/index.js';
import { REPO_ROOT } from './harness.js';

export const RELAY_SCRIPT = path.join(REPO_ROOT, 'test', 'conformance', 'relay-client.sh');

/**
 * Where "the user" published Gatehouse's client metadata document: the scenario that tests Client ID
 * Metadata Documents expects this id (its mock authorization server never fetches it).
 */
export const CONFORMANCE_CLIENT_METADATA_URL = 'https://conformance-test.local/client-metadata.json';

/** A user's browser without a page to look at: it follows the authorization server's redirects into the loopback callback. */
export async function followRedirects(url: string): Promise<void> {
  let next = url;
  for (let hop = 0; hop < 5; hop++) {
    const res = await fetch(next, { redirect: 'manual' });
    await res.body?.cancel().catch(() => {});
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || !location) return;
    next = new URL(location, next).href;
  }
}

const ContextSchema = z.object({ client_id: z.string().optional(), client_secret: z.string().optional() }).passthrough();

export interface ScenarioInput {
  url: string;
  scenario: string;
  context: string;
  /** The protocol revision the scenario runs at (MCP_CONFORMANCE_PROTOCOL_VERSION). */
  version: string;
}

let counter = 0;

/** One scenario, as a user would: add, sign in, call every tool; sign in again when Gatehouse asks. Returns a report; throws on a refusal. */
export async function driveScenario(api: ApiClient, input: ScenarioInput, report: (line: string) => void): Promise<void> {
  const n = ++counter;
  const name = `conformance-${n}`;
  const context = ContextSchema.parse(input.context ? JSON.parse(input.context) : {});
  const remote: RemoteSettingsInput = { oauth: true, clientMetadataUrl: CONFORMANCE_CLIENT_METADATA_URL, timeoutMs: 20_000 };
  if (context.client_id) {
    // A client registered beforehand: its secret goes to the keychain, the server's settings name it.
    remote.clientId = context.client_id;
    if (context.client_secret) {
      const secret = `CONFORMANCE_CLIENT_SECRET_${n}`;
      await api.setSecret({ name: secret, value: context.client_secret });
      remote.clientSecret = secret;
    }
  }
  const server = await api.run({ url: input.url, name, remote });
  report(`added ${name}: ${server.status}`);
  let signIns = 0;
  const signIn = async () => {
    signIns++;
    await api.signInStart({ name });
    const done = await api.signInWait({ name });
    report(`sign-in ${signIns}: ${done.state}${done.scope ? ` (scope ${done.scope})` : ''}`);
  };
  // At the 2026-07-28 wire the client is pinned to it (stateless, no initialize); before it, the initialize handshake.
  const modern = input.version >= '2026-07-28';
  const client = new Client({ name: 'conformance-through-gatehouse', version: '1.0.0' }, modern ? { versionNegotiation: { mode: { pin: input.version } } } : {});
  try {
    await signIn();
    await client.connect(new StreamableHTTPClientTransport(new URL('/mcp', new URL(server.url).origin)));
    /** A call; when it fails because Gatehouse needs a (new) sign-in, one more sign-in and the call again, at most twice. */
    const call = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      for (let attempt = 0; ; attempt++) {
        try {
          const r = await fn();
          report(`${what}: ok`);
          return r;
        } catch (err) {
          const st = await api.signInStatus({ name });
          const asked = st.state === 'needs-sign-in' || st.stepUp !== null;
          report(`${what}: ${(err as Error).message}${asked ? ' -> Gatehouse asks for a sign-in' : ''}`);
          if (!asked || attempt >= 2) throw err;
          await signIn();
        }
      }
    };
    const { tools } = await call('tools/list', () => client.listTools());
    for (const tool of tools) await call(`tools/call ${tool.name}`, () => client.callTool({ name: tool.name, arguments: {} }));
  } finally {
    await client.close().catch(() => {});
    await api.remove({ name, force: true }).catch(() => {});
  }
}

export interface Relay {
  /** The command the harness runs (it appends the scenario server's URL). */
  command: string;
  close(): Promise<void>;
}

/** The loopback endpoint relay-client.sh posts each scenario to (a random path, so nothing else on this machine drives the core). */
export async function startRelay(run: (input: ScenarioInput, report: (line: string) => void) => Promise<void>): Promise<Relay> {
  const secretPath = `/${randomBytes(16).toString('hex')}`;
  const srv = http.createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== secretPath) {
      res.writeHead(404).end();
      return;
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      const lines: string[] = [];
      const report = (line: string) => lines.push(line);
      run({ url: form.get('url') ?? '', scenario: form.get('scenario') ?? '', context: form.get('context') ?? '', version: form.get('version') ?? '' }, report).then(
        () => res.writeHead(200, { 'content-type': 'text/plain' }).end(`${lines.join('\n')}\n`),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${lines.join('\n')}\nrefused: ${(err as Error).message}\n`),
      );
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as AddressInfo).port;
  return {
    command: `sh ${RELAY_SCRIPT} http://127.0.0.1:${port}${secretPath}`,
    close: () => new Promise((resolve) => srv.close(() => resolve())),
  };
}
