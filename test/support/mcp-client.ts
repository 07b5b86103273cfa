import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export type ClientTransportKind = 'streamable-http' | 'sse';

/** A real MCP SDK client connected to a proxy URL (base URL without path). */
export async function connectClient(
  baseUrl: string,
  kind: ClientTransportKind = 'streamable-http',
  capabilities: Record<string, unknown> = {},
  name = 'gatehouse-test',
): Promise<Client> {
  const client = new Client({ name, version: '1.0.0' }, { capabilities });
  const transport =
    kind === 'sse' ? new SSEClientTransport(new URL('/sse', baseUrl)) : new StreamableHTTPClientTransport(new URL('/mcp', baseUrl));
  await client.connect(transport);
  return client;
}

export function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((c) => c.text ?? '').join('');
}
