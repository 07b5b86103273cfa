import { PassThrough } from 'node:stream';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

/**
 * A real MCP server (the SDK's McpServer over its stdio transport) with the tools of ToolHive's
 * authorization guide — weather, admin_tool, calculator — plus annotated tools, a prompt, two
 * resources and a tool that logs at four levels. It runs in-process on a pair of pipes, which the proxy's StdioBackend takes as a container's
 * stdin/stdout, so authorization tests exercise the real proxy in seconds.
 */
export async function startToolsServer(extraTools = 0): Promise<{ stdin: PassThrough; stdout: PassThrough; close(): Promise<void> }> {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const server = new McpServer({ name: 'authz-tools', version: '1.0.0' }, { capabilities: { logging: {} } });
  const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });
  server.registerTool('weather', { description: 'Weather for a city', inputSchema: { city: z.string() } }, ({ city }) => text(`Sunny in ${city}`));
  server.registerTool('admin_tool', { description: 'Administration' }, () => text('admin done'));
  server.registerTool(
    'calculator',
    { description: 'Arithmetic', inputSchema: { operation: z.string(), a: z.number(), b: z.number() } },
    ({ operation, a, b }) => text(String(operation === 'add' ? a + b : operation === 'subtract' ? a - b : operation === 'multiply' ? a * b : NaN)),
  );
  server.registerTool('read_notes', { description: 'Reads notes', annotations: { readOnlyHint: true } }, () => text('notes'));
  server.registerTool('delete_notes', { description: 'Deletes notes', annotations: { destructiveHint: true, readOnlyHint: false } }, () => text('deleted'));
  // One log line at each of four levels: what each client gets of them depends on its own logging/setLevel.
  server.registerTool('log_lines', { description: 'Writes log lines' }, async () => {
    for (const level of ['debug', 'info', 'warning', 'error'] as const) await server.sendLoggingMessage({ level, data: `${level} line` });
    return text('logged');
  });
  for (let i = 0; i < extraTools; i++) server.registerTool(`extra_${i}`, { description: `Extra tool ${i}` }, () => text(`extra ${i}`));
  server.registerPrompt('greeting', { description: 'Greets', argsSchema: { name: z.string() } }, ({ name }) => ({
    messages: [{ role: 'user', content: { type: 'text', text: `Hello ${name}` } }],
  }));
  server.registerResource('public', 'file:///public.txt', { mimeType: 'text/plain' }, (uri) => ({ contents: [{ uri: uri.href, text: 'public' }] }));
  server.registerResource('secret', 'file:///secret.txt', { mimeType: 'text/plain' }, (uri) => ({ contents: [{ uri: uri.href, text: 'secret' }] }));
  await server.connect(new StdioServerTransport(stdin, stdout));
  return { stdin, stdout, close: () => server.close() };
}
