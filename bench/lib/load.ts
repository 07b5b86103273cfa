// The load: real MCP SDK clients calling server-everything's `echo` tool.
import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export interface Session {
  client: Client;
  close(): Promise<void>;
}

const CLIENT_INFO = { name: 'gatehouse-bench', version: '1.0.0' };

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref())]);
}

/** An SDK client session over Streamable HTTP at <baseUrl>/mcp. */
export async function connectHttp(baseUrl: string): Promise<Session> {
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', baseUrl));
  const client = new Client(CLIENT_INFO, { capabilities: {} });
  await client.connect(transport);
  return {
    client,
    close: async () => {
      // DELETE ends the session on the server side (supergateway then stops that session's child).
      await withTimeout(transport.terminateSession().catch(() => undefined), 2000);
      await withTimeout(client.close().catch(() => undefined), 2000);
    },
  };
}

/** An SDK client that spawns server-everything over stdio (the floor). */
export async function connectStdio(command: string, args: string[]): Promise<Session & { pid: number | null }> {
  const transport = new StdioClientTransport({ command, args, stderr: 'ignore' });
  const client = new Client(CLIENT_INFO, { capabilities: {} });
  await client.connect(transport);
  return { client, pid: transport.pid, close: async () => void (await withTimeout(client.close().catch(() => undefined), 3000)) };
}

/** Connects as soon as the endpoint answers an initialize; the time is start-to-first-initialize. */
export async function connectWhenReady(connect: () => Promise<Session>, timeoutMs: number, describeFailure: () => string): Promise<Session> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      return await connect();
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`no initialize answered within ${timeoutMs} ms (last error: ${(last as Error)?.message ?? String(last)})\n${describeFailure()}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function echo(client: Client, message: string): Promise<string> {
  const result = await client.callTool({ name: 'echo', arguments: { message } });
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content[0]?.text ?? '';
}

/** Sequential calls on one session: the latency of each measured call, ms. */
export async function measureLatency(client: Client, warmup: number, calls: number): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await echo(client, `warm-${i}`);
  const samples = new Array<number>(calls);
  for (let i = 0; i < calls; i++) {
    const message = `m-${i}`;
    const t0 = performance.now();
    const text = await echo(client, message);
    samples[i] = performance.now() - t0;
    if (text !== `Echo: ${message}`) throw new Error(`wrong reply: expected "Echo: ${message}", got "${text.slice(0, 100)}"`);
  }
  return samples;
}

export interface ThroughputResult {
  callsPerSecond: number;
  calls: number;
  errors: number;
  /** Replies that carried another call's message: a routing bug, never expected. */
  wrongReplies: number;
  windowMs: number;
  firstError?: string;
}

/**
 * Each caller loops echo calls on its session; after a warm-up the completed calls are counted over a
 * fixed window. The hooks run at the window's edges (resource sampling).
 */
export async function measureThroughput(
  sessions: readonly Session[],
  warmupMs: number,
  windowMs: number,
  hooks: { atStart?: () => void; atEnd?: () => void } = {},
): Promise<ThroughputResult> {
  let stop = false;
  let done = 0;
  let errors = 0;
  let wrongReplies = 0;
  let firstError: string | undefined;
  const loops = sessions.map(async (s, i) => {
    let k = 0;
    while (!stop) {
      const message = `s${i}-${k++}`;
      try {
        const text = await echo(s.client, message);
        if (text === `Echo: ${message}`) done++;
        else wrongReplies++;
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  });
  await new Promise((r) => setTimeout(r, warmupMs));
  const c0 = done;
  const e0 = errors;
  const w0 = wrongReplies;
  hooks.atStart?.();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, windowMs));
  const c1 = done;
  const t1 = performance.now();
  hooks.atEnd?.();
  stop = true;
  await Promise.all(loops);
  const result: ThroughputResult = {
    callsPerSecond: ((c1 - c0) * 1000) / (t1 - t0),
    calls: c1 - c0,
    errors: errors - e0,
    wrongReplies: wrongReplies - w0,
    windowMs: t1 - t0,
  };
  if (firstError !== undefined) result.firstError = firstError;
  return result;
}
