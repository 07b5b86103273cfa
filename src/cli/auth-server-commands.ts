import fs from 'node:fs';
import { CommanderError, type Command } from 'commander';
import type { ApiClient, AuthServerView } from '../api/browser.js';
import { ExitCode } from './exit-codes.js';

type Format = 'table' | 'json';

function viewText(v: AuthServerView): string {
  if (!v.configured) return 'No authorization server is set up. Set one up with: gatehouse authserver set <file> (ToolHive embeddedAuthServer settings, YAML or JSON)';
  const lines = [`Authorization server: ${v.running ? 'running' : 'NOT RUNNING'}${v.issuer ? ` at ${v.issuer}` : ''}`];
  if (v.problem) lines.push(`  problem:   ${v.problem}`);
  if (v.upstream) lines.push(`  upstream:  ${v.upstream.name} (${v.upstream.type}) ${v.upstream.url}`);
  lines.push(`  servers:   ${v.audiences.join(', ') || "none yet (a server takes its tokens when its OIDC issuer is this one's)"}`);
  for (const k of v.signingKeys) lines.push(`  key:       ${k.kid} ${k.alg}${k.retiredAt !== null ? ` (retired ${new Date(k.retiredAt).toISOString()}, still published)` : ' (signs)'}`);
  if (v.lifespans) lines.push(`  lifespans: access ${v.lifespans.accessTokenMs / 60_000} min, refresh ${v.lifespans.refreshTokenMs / 3_600_000} h, code ${v.lifespans.authCodeMs / 60_000} min`);
  return lines.join('\n');
}

/** The settings file as ToolHive's guide writes it (YAML, also a whole MCPExternalAuthConfig) or a RunConfig's JSON. */
async function readSettingsFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CommanderError(ExitCode.usage, 'gatehouse.authserver', `Cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  try {
    // yaml is loaded by this command only (every gatehouse command, and every bridge, starts without it).
    return text.trimStart().startsWith('{') ? (JSON.parse(text) as unknown) : ((await import('yaml')).parse(text) as unknown);
  } catch (err) {
    throw new CommanderError(ExitCode.usage, 'gatehouse.authserver', `${file} is neither JSON nor YAML: ${(err as Error).message}`);
  }
}

/** `gatehouse authserver ...`: the embedded authorization server (MCP clients sign in through it to your identity provider). */
export function addAuthServerCommands(program: Command, fmt: () => Format, withCore: <T>(fn: (api: ApiClient) => Promise<T>) => Promise<T>): void {
  const print = (v: AuthServerView) => process.stdout.write(`${fmt() === 'json' ? JSON.stringify(v, null, 2) : viewText(v)}\n`);
  const cmd = program.command('authserver').description('the embedded OAuth authorization server: MCP clients sign in through Gatehouse to your identity provider');
  cmd
    .command('set <file>')
    .description("use ToolHive's embeddedAuthServer settings (YAML or JSON, either spelling); invalid settings never replace running ones")
    .action(async (file: string) => {
      const settings = await readSettingsFile(file);
      print(await withCore((api) => api.setAuthServer({ settings })));
    });
  cmd
    .command('show')
    .description('what runs: issuer, upstream, servers, signing keys, lifespans')
    .action(async () => {
      const v = await withCore((api) => api.authServer());
      print(v);
      if (v.configured && !v.running) process.exitCode = ExitCode.failure;
    });
  cmd
    .command('rm')
    .description('stop the authorization server and forget its settings (its keys stay in the keychain)')
    .action(async () => {
      print(await withCore((api) => api.removeAuthServer()));
    });
}
