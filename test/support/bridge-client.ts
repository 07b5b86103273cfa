import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const BIN = path.resolve('bin/gatehouse.js');

/**
 * The environment Claude Desktop gives the commands it starts: the SDK's short default list (HOME,
 * PATH, USER... on POSIX) plus what the client entry sets, GATEHOUSE_HOME. Nothing else of this process.
 */
export function bridgeEnv(home: string): Record<string, string> {
  return { ...getDefaultEnvironment(), GATEHOUSE_HOME: home };
}

export interface BridgeClient {
  client: Client;
  transport: StdioClientTransport;
  /** What the bridge wrote to stderr so far. */
  stderr(): string;
  /** Errors the SDK client reported: a line on stdout that is not JSON-RPC would be one. */
  errors: Error[];
  /** Methods of the notifications the client received that it has no handler of its own for. */
  notifications: string[];
  close(): Promise<void>;
}

/**
 * A real SDK Client talking to `gatehouse bridge <server>` over stdio, spawned as Claude Desktop does:
 * absolute node, absolute script, no shell, a reduced environment.
 */
export async function connectBridge(
  home: string,
  server: string,
  opts: { capabilities?: Record<string, unknown>; name?: string; connect?: boolean } = {},
): Promise<BridgeClient> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, 'bridge', server],
    env: bridgeEnv(home),
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const client = new Client({ name: opts.name ?? 'bridge-test', version: '1.0.0' }, { capabilities: opts.capabilities ?? {} });
  const errors: Error[] = [];
  const notifications: string[] = [];
  client.onerror = (err) => errors.push(err);
  client.fallbackNotificationHandler = async (n) => {
    notifications.push(n.method);
  };
  const b: BridgeClient = {
    client,
    transport,
    stderr: () => stderr,
    errors,
    notifications,
    close: () => client.close(),
  };
  if (opts.connect !== false) await client.connect(transport);
  return b;
}

export interface RawBridge {
  child: ChildProcessWithoutNullStreams;
  /** Every line written to stdout so far, as written. */
  lines: string[];
  stderr(): string;
  send(message: unknown): void;
  /** The first stdout line that parses to a message with this id. */
  response(id: number | string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Closes stdin and resolves with the exit code. */
  end(timeoutMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

/** The bridge as a bare child process, to see exactly what it writes where (env: instead of bridgeEnv(home)). */
export function spawnBridge(home: string, server: string, opts: { env?: Record<string, string> } = {}): RawBridge {
  const child = spawn(process.execPath, [BIN, 'bridge', server], { env: opts.env ?? bridgeEnv(home), stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  let stderr = '';
  const waiting: (() => void)[] = [];
  child.stdout.on('data', (d: Buffer) => {
    partial += d.toString();
    let nl = partial.indexOf('\n');
    while (nl !== -1) {
      lines.push(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
      nl = partial.indexOf('\n');
    }
    for (const w of waiting.splice(0)) w();
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  void exited.then(() => clearTimeout(killer));
  const find = (id: number | string) => {
    for (const l of lines) {
      try {
        const m = JSON.parse(l) as Record<string, unknown>;
        if (m['id'] === id && !('method' in m)) return m;
      } catch {
        // asserted by the test
      }
    }
    return undefined;
  };
  return {
    child,
    lines,
    stderr: () => stderr,
    exited,
    send: (message) => child.stdin.write(`${JSON.stringify(message)}\n`),
    async response(id, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = find(id);
        if (m) return m;
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no response to ${id} from the bridge; stderr:\n${stderr}`);
        await new Promise<void>((r) => {
          waiting.push(r);
          setTimeout(r, 200);
        });
      }
    },
    async end(timeoutMs = 10_000) {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
