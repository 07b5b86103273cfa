import type { Command } from 'commander';
import type { ApiClient, ClientChangeView, ClientView } from '../api/browser.js';
import { ExitCode } from './exit-codes.js';
import { table } from './format.js';

type Format = 'table' | 'json';

const STATE_WORDS: Record<ClientView['state'], string> = {
  'not-installed': 'not installed',
  'not-registered': 'not set up',
  'in-sync': 'in sync',
  'out-of-sync': 'OUT OF SYNC',
  error: 'ERROR',
};

function clientRows(clients: ClientView[]): string {
  return table(
    ['CLIENT', 'NAME', 'STATE', 'GROUPS', 'ENTRIES', 'FILE'],
    clients.map((c) => [c.id, c.name, STATE_WORDS[c.state], c.groups.join(',') || '-', String(c.entries.length), c.file]),
  );
}

function statusText(c: ClientView): string {
  const lines = [`${c.name} (${c.id}): ${STATE_WORDS[c.state]}`, `  file:    ${c.file}`, `  groups:  ${c.groups.join(', ') || '-'}`, `  entries: ${c.entries.join(', ') || '-'}`];
  for (const p of c.problems) lines.push(`  problem: ${p}`);
  if (c.note) lines.push(`  note:    ${c.note}`);
  return lines.join('\n');
}

function changeText(verb: string, ch: ClientChangeView): string {
  const c = ch.client;
  const lines: string[] = [];
  if (ch.fileChanged) lines.push(`${c.name}: ${ch.created ? 'created' : 'updated'} ${c.file}.`);
  else if (verb === 'setup') lines.push(`${c.name}: set up; ${c.file} needed no change.`);
  else lines.push(`${c.name}: ${c.file} needed no change.`);
  if (ch.written.length) lines.push(`  wrote:   ${ch.written.join(', ')}`);
  if (ch.removed.length) lines.push(`  removed: ${ch.removed.join(', ')}`);
  if (ch.unchanged.length) lines.push(`  kept:    ${ch.unchanged.join(', ')}`);
  for (const x of ch.conflicts) lines.push(`  skipped ${x.server}: ${x.reason}`);
  for (const x of ch.unsupported) lines.push(`  skipped ${x.server}: ${x.reason}`);
  if (ch.backup) lines.push(`  backup of the original: ${ch.backup}`);
  if (verb === 'setup' && ch.written.length + ch.unchanged.length === 0 && ch.conflicts.length === 0) {
    lines.push(`  No running servers in group ${c.groups.join(', ')} yet: entries appear as you run them.`);
  }
  if (ch.fileChanged && c.note) lines.push(`  ${c.note}`);
  return lines.join('\n');
}

/** `gatehouse client ...`: one-click configuration of Claude Desktop, Cursor and the other MCP clients. */
export function addClientCommands(program: Command, fmt: () => Format, withCore: <T>(fn: (api: ApiClient) => Promise<T>) => Promise<T>): void {
  const print = (json: unknown, text: () => string) => process.stdout.write((fmt() === 'json' ? JSON.stringify(json, null, 2) : text()) + '\n');
  const client = program.command('client').description('configure MCP clients (Claude Desktop, Cursor, VS Code, ...) to use your servers');

  client
    .command('ls')
    .alias('list')
    .description('every client Gatehouse knows: installed? set up? in sync?')
    .action(async () => {
      const clients = await withCore((api) => api.clients());
      print(clients, () => clientRows(clients));
    });

  client
    .command('setup <client>')
    .alias('register')
    .description("write an entry for every running server of the group into the client's own config file, and keep it in sync")
    .option('--group <group>', 'server group', 'default')
    .action(async (id: string, o: { group: string }) => {
      const ch = await withCore((api) => api.setupClient({ id, group: o.group }));
      print(ch, () => changeText('setup', ch));
      if (ch.conflicts.length > 0) process.exitCode = ExitCode.conflict;
    });

  client
    .command('remove <client>')
    .alias('unregister')
    .description("take Gatehouse's entries out of the client's config file and stop syncing it")
    .option('--group <group>', 'only this server group')
    .action(async (id: string, o: { group?: string }) => {
      const ch = await withCore((api) => api.removeClient({ id, group: o.group }));
      print(ch, () => changeText('remove', ch));
    });

  client
    .command('status [client]')
    .description('is the client set up, and does its file hold the entries it should?')
    .action(async (id: string | undefined) => {
      const views = await withCore(async (api) => (id === undefined ? (await api.clients()).filter((c) => c.groups.length > 0 || c.entries.length > 0) : [await api.client({ id })]));
      print(id === undefined ? views : views[0], () => (views.length === 0 ? 'No client is set up. See: gatehouse client ls' : views.map(statusText).join('\n\n')));
      if (views.some((c) => c.state === 'out-of-sync' || c.state === 'error')) process.exitCode = ExitCode.failure;
    });
}
