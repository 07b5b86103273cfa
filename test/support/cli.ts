import { spawn } from 'node:child_process';
import path from 'node:path';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const BIN = path.resolve('bin/gatehouse.js');

/**
 * Runs the real `gatehouse` command (the built dist) with its own GATEHOUSE_HOME, host networking (no
 * bridge on CI machines) and no image pulls. A command that should have ended is killed after timeoutMs
 * (a second `serve` that wrongly started must not hang the suite).
 */
export function runCli(home: string, args: string[], opts: { env?: NodeJS.ProcessEnv; stdin?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...(opts.env ?? process.env), GATEHOUSE_HOME: home, GATEHOUSE_NETWORK: 'host', GATEHOUSE_PULL_POLICY: 'never' },
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 40_000);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(opts.stdin ?? '');
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** The URL `gatehouse run` prints for clients. */
export function printedUrl(stdout: string): string {
  const m = /Point your MCP client at: (\S+)/.exec(stdout);
  if (!m?.[1]) throw new Error(`gatehouse run printed no URL:\n${stdout}`);
  return m[1];
}
