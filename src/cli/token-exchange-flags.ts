import fs from 'node:fs';
import { CommanderError, type Command } from 'commander';
import type { TokenExchangeView } from '../api/browser.js';
import { ExitCode } from './exit-codes.js';

const usage = (message: string) => new CommanderError(ExitCode.usage, 'gatehouse.token-exchange', message);

/** ToolHive's token exchange flags (`thv run --token-exchange-*`), with the client secret named from the keychain. */
export function addTokenExchangeOptions(cmd: Command): Command {
  return cmd
    .option('--token-exchange-url <url>', 'exchange the caller\'s token (RFC 8693) at this token endpoint and send the result to the server')
    .option('--token-exchange-client-id <id>', 'token exchange: the client Gatehouse authenticates as')
    .option('--token-exchange-client-secret <NAME>', "token exchange: the keychain secret holding that client's secret (never the value)")
    .option('--token-exchange-client-secret-file <file>', 'token exchange: a file holding the client secret (moved into the keychain)')
    .option('--token-exchange-audience <audience>', 'token exchange: the audience of the exchanged token')
    .option('--token-exchange-scopes <scopes>', 'token exchange: scopes to ask for, comma-separated')
    .option('--token-exchange-subject-token-type <type>', 'token exchange: access_token (default), id_token or jwt')
    .option('--token-exchange-header-name <name>', 'token exchange: send the token in this header instead of Authorization')
    .option('--token-exchange-config <file>', 'token exchange settings from a file: an MCPExternalAuthConfig of type tokenExchange, or a RunConfig (JSON or YAML)');
}

function str(o: Record<string, unknown>, k: string): string | undefined {
  return typeof o[k] === 'string' ? (o[k] as string) : undefined;
}

/** The flags as token exchange settings in ToolHive's spelling (the core checks them); undefined when none was given. */
export async function tokenExchangeFromFlags(o: Record<string, unknown>, readFile: (p: string) => string = (p) => fs.readFileSync(p, 'utf8')): Promise<unknown> {
  const read = (flag: string, file: string) => {
    try {
      return readFile(file);
    } catch (err) {
      throw usage(`Cannot read ${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const file = str(o, 'tokenExchangeConfig');
  const url = str(o, 'tokenExchangeUrl');
  const others = ['tokenExchangeClientId', 'tokenExchangeClientSecret', 'tokenExchangeClientSecretFile', 'tokenExchangeAudience', 'tokenExchangeScopes', 'tokenExchangeSubjectTokenType', 'tokenExchangeHeaderName'].filter((k) => str(o, k) !== undefined);
  if (file !== undefined) {
    if (url !== undefined || others.length) throw usage('Give --token-exchange-config alone, or the --token-exchange-* flags, not both.');
    const { parse } = await import('yaml');
    try {
      return parse(read('--token-exchange-config', file)) as unknown;
    } catch (err) {
      throw usage(`${file} is neither JSON nor YAML: ${(err as Error).message}`);
    }
  }
  if (url === undefined) {
    if (others.length) throw usage('--token-exchange-url is required with the other --token-exchange-* flags.');
    return undefined;
  }
  if (str(o, 'tokenExchangeClientSecret') !== undefined && str(o, 'tokenExchangeClientSecretFile') !== undefined) throw usage('Give --token-exchange-client-secret or --token-exchange-client-secret-file, not both.');
  const scopes = str(o, 'tokenExchangeScopes')?.split(/[,\s]+/).filter(Boolean);
  const secretFile = str(o, 'tokenExchangeClientSecretFile');
  if (secretFile !== undefined) {
    // A secret value travels in the runner's spelling; the core moves it to the keychain.
    const header = str(o, 'tokenExchangeHeaderName');
    return {
      token_url: url,
      ...(str(o, 'tokenExchangeClientId') ? { client_id: str(o, 'tokenExchangeClientId') } : {}),
      client_secret: read('--token-exchange-client-secret-file', secretFile).trim(),
      ...(str(o, 'tokenExchangeAudience') ? { audience: str(o, 'tokenExchangeAudience') } : {}),
      ...(scopes?.length ? { scopes } : {}),
      ...(str(o, 'tokenExchangeSubjectTokenType') ? { subject_token_type: str(o, 'tokenExchangeSubjectTokenType') } : {}),
      ...(header ? { header_strategy: 'custom', external_token_header_name: header } : {}),
    };
  }
  return {
    tokenUrl: url,
    ...(str(o, 'tokenExchangeClientId') ? { clientId: str(o, 'tokenExchangeClientId') } : {}),
    ...(str(o, 'tokenExchangeClientSecret') ? { clientSecretRef: { name: str(o, 'tokenExchangeClientSecret') } } : {}),
    ...(str(o, 'tokenExchangeAudience') ? { audience: str(o, 'tokenExchangeAudience') } : {}),
    ...(scopes?.length ? { scopes } : {}),
    ...(str(o, 'tokenExchangeSubjectTokenType') ? { subjectTokenType: str(o, 'tokenExchangeSubjectTokenType') } : {}),
    ...(str(o, 'tokenExchangeHeaderName') ? { externalTokenHeaderName: str(o, 'tokenExchangeHeaderName') } : {}),
  };
}

/** What `gatehouse auth token-exchange <server>` prints: where tokens are exchanged and what goes to the server. */
export function tokenExchangeText(server: string, v: TokenExchangeView): string {
  const lines = [`${server}: callers' tokens are exchanged at ${v.tokenUrl}`];
  lines.push(`  as client:  ${v.clientId ?? '(none)'}${v.clientSecretName ? ` (secret in the keychain: ${v.clientSecretName})` : ''}`);
  if (v.audience) lines.push(`  audience:   ${v.audience}`);
  if (v.scopes.length) lines.push(`  scopes:     ${v.scopes.join(' ')}`);
  lines.push(`  subject:    ${v.subjectProviderName ? `the user's ${v.subjectProviderName} token (embedded authorization server)` : "the caller's token"} as ${v.subjectTokenType.replace('urn:ietf:params:oauth:token-type:', '')}`);
  lines.push(`  sent as:    ${v.headerName === 'authorization' ? 'Authorization' : v.headerName}: Bearer <exchanged token>`);
  return lines.join('\n');
}
