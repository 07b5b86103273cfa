import type { Command } from 'commander';
import { connectCore } from './core-connection.js';
import { ExitCode } from './exit-codes.js';

/** Waits (briefly) until what was written to stdout has been handed to the OS. */
function flushStdout(): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 1_000);
    timer.unref();
    try {
      process.stdout.write('', () => {
        clearTimeout(timer);
        resolve();
      });
    } catch {
      resolve();
    }
  });
}

/**
 * `gatehouse bridge <server>`: for MCP clients that only start commands (Claude Desktop). They run
 * `<node> <path>/bin/gatehouse.js bridge <server>` with GATEHOUSE_HOME set; nothing else from the
 * environment (PATH, shell, HOME) is needed to find the core.
 */
export function registerBridgeCommand(program: Command): void {
  program
    .command('bridge <server>')
    .description("serve a server over stdin/stdout, relaying to its local proxy (for clients that only start commands, like Claude Desktop)")
    .action(async (server: string) => {
      // Loaded here, not at the top: the bridge (the MCP SDK's transports) is this command's alone.
      const { describeError, runBridge } = await import('../clients/bridge/index.js');
      const log = (line: string) => process.stderr.write(`gatehouse bridge ${server}: ${line}\n`);
      // stdout belongs to JSON-RPC: anything a library prints goes to stderr instead.
      const toStderr = (...args: unknown[]) => log(args.map((a) => (typeof a === 'string' ? a : describeError(a))).join(' '));
      console.log = toStderr;
      console.info = toStderr;
      console.debug = toStderr;
      process.on('unhandledRejection', (reason) => log(`unexpected error (still serving): ${describeError(reason)}`));
      process.on('uncaughtException', (err) => {
        log(`fatal error: ${describeError(err)}`);
        void flushStdout().then(() => process.exit(ExitCode.failure));
      });
      const code = await runBridge(server, { locator: { connect: connectCore } });
      await flushStdout();
      // Idle keep-alive sockets and the like must not keep a finished bridge alive.
      process.exit(code);
    });
}
