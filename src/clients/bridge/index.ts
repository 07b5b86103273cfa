import type { Readable, Writable } from 'node:stream';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { coreLocator, type CoreLocatorOptions } from './locate.js';
import { Relay, type RelayOptions } from './relay.js';
import { describeError, httpTransport } from './upstream.js';

export { Relay, type RelayOptions } from './relay.js';
export { coreLocator, unavailableMessage, type CoreLocatorOptions } from './locate.js';
export * from './upstream.js';

/** The bridge's exit codes (the same numbers as the CLI's). */
const EXIT = { ok: 0, failure: 1, notFound: 3 } as const;

export interface BridgeOptions {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  /** Quit on SIGTERM and SIGINT (the command does; an embedding process may not want it). */
  handleSignals?: boolean;
  locator: CoreLocatorOptions;
  relay?: Partial<Omit<RelayOptions, 'serverName' | 'log' | 'onFatal'>>;
}

/**
 * `gatehouse bridge <server>`: an MCP server on stdin/stdout that relays everything to the server's
 * proxy. Resolves with the exit code once stdin closes (0), a signal arrives (0), the server does not
 * exist (3) or the client side breaks (1). Only JSON-RPC is ever written to stdout; diagnostics go to
 * stderr, one line each.
 */
export async function runBridge(name: string, opts: BridgeOptions): Promise<number> {
  const stdin = opts.stdin ?? process.stdin;
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const log = (line: string) => {
    stderr.write(`gatehouse bridge ${name}: ${line}\n`);
  };

  let resolveDone: (code: number) => void = () => {};
  const done = new Promise<number>((r) => (resolveDone = r));
  let finishing = false;

  const locator = coreLocator(name, opts.locator);
  const relay = new Relay(
    new StdioServerTransport(stdin, stdout),
    { locate: (ctx) => locator.locate(ctx), connect: httpTransport },
    { ...opts.relay, serverName: name, log, onFatal: () => finish(EXIT.notFound) },
  );

  const finish = (code: number, why?: string) => {
    if (finishing) return;
    finishing = true;
    if (why) log(why);
    relay
      .close()
      .catch((err: unknown) => log(`closing: ${describeError(err)}`))
      .finally(() => resolveDone(code));
  };

  const onEnd = () => finish(EXIT.ok);
  const onStdinError = (err: Error) => finish(EXIT.failure, `cannot read from the client: ${describeError(err)}`);
  // EPIPE and the like: the client is gone, nobody reads what the bridge would say.
  const onStdoutError = (err: Error) => finish(EXIT.ok, `the client closed its end (${describeError(err)})`);
  const onSignal = (signal: NodeJS.Signals) => finish(EXIT.ok, `${signal}: closing`);
  stdin.once('end', onEnd);
  stdin.once('close', onEnd);
  stdin.on('error', onStdinError);
  stdout.on('error', onStdoutError);
  if (opts.handleSignals !== false) {
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }

  try {
    await relay.start();
    return await done;
  } finally {
    stdin.off('end', onEnd);
    stdin.off('close', onEnd);
    stdin.off('error', onStdinError);
    stdout.off('error', onStdoutError);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
