import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/clients/config-file/index.js';
import { CLIENTS, syncDocument, type ClientSpec, type OwnedEntry, type ServerEndpoint } from '../../src/clients/index.js';

/**
 * Golden files per client (test/fixtures/clients/<id>/): the entry Gatehouse writes into a missing file
 * (created), into the user's file full of other entries and comments (added), after one of its servers
 * changed (updated), and after its servers are gone (the user's original, byte for byte).
 * GOLDEN_WRITE=1 rewrites the expected files from the code; read every diff before committing one.
 */
const FIXTURES = path.resolve('test/fixtures/clients');
const WRITE = process.env['GOLDEN_WRITE'] === '1';
const launcher = { command: '/opt/node/bin/node', args: ['/opt/gatehouse/bin/gatehouse.js'], env: { GATEHOUSE_HOME: '/home/ada/.local/share/gatehouse' } };

const time: ServerEndpoint = { name: 'time', transport: 'stdio', proxyPort: 43117 };
const sse: ServerEndpoint = { name: 'legacy-sse', transport: 'sse', proxyPort: 43119 };
const timeMoved: ServerEndpoint = { ...time, proxyPort: 43120 };
/** Node moved (an upgrade): bridge entries change with it. */
const launcherMoved = { ...launcher, command: '/opt/node-22/bin/node' };
/** Whether the client's entry for an SSE server is a bridge command (it then follows the launcher). */
const sseIsBridge = (c: ClientSpec) => c.entry.kind === 'stdio' || (!c.entry.sse && c.entry.stdio !== undefined);

const ext = (c: ClientSpec) => (c.location.format === 'json' ? 'json' : c.location.format);

function expectFile(file: string, actual: string): void {
  if (WRITE) fs.writeFileSync(file, actual);
  expect(actual, `${path.relative(process.cwd(), file)} (GOLDEN_WRITE=1 to regenerate)`).toBe(fs.readFileSync(file, 'utf8'));
}

function step(text: string | undefined, client: ClientSpec, wanted: ServerEndpoint[], owned: OwnedEntry[], using = launcher) {
  const file = `~/${client.id}.${ext(client)}`;
  const doc = parseConfig(text, client.location, file);
  const result = syncDocument(doc, client, wanted, owned, using, file);
  return { text: doc.text(), result };
}

describe.each(CLIENTS.map((c) => [c.id, c] as const))('%s', (_id, client) => {
  const dir = path.join(FIXTURES, client.id);
  const original = () => fs.readFileSync(path.join(dir, `original.${ext(client)}`), 'utf8');

  it('creates a missing file holding only its entry', () => {
    const { text, result } = step(undefined, client, [time], []);
    expect(result.written).toEqual(['time']);
    expectFile(path.join(dir, `created.${ext(client)}`), text);
  });

  it("adds entries to the user's file, leaving everything else as it was; updates; removes back to the original", () => {
    const added = step(original(), client, [time, sse], []);
    expect(added.result.written).toEqual(['time', 'legacy-sse']);
    expect(added.result.conflicts).toEqual([]);
    expectFile(path.join(dir, `added.${ext(client)}`), added.text);
    // Parsing what was written gives back exactly the entries the client table describes.
    const reread = parseConfig(added.text, client.location, 'added').entries();
    for (const o of added.result.owned) expect(reread.get(o.entry)).toEqual(o.content);

    // time moved to another port and Node moved: URL entries follow the port, bridge entries Node.
    const updated = step(added.text, client, [timeMoved, sse], added.result.owned, launcherMoved);
    expect(updated.result.written).toEqual(sseIsBridge(client) ? ['time', 'legacy-sse'] : ['time']);
    expect(updated.result.unchanged).toEqual(sseIsBridge(client) ? [] : ['legacy-sse']);
    expectFile(path.join(dir, `updated.${ext(client)}`), updated.text);

    const removed = step(updated.text, client, [], updated.result.owned);
    expect(removed.result.removed).toEqual(['time', 'legacy-sse']);
    expect(removed.text).toBe(original());
  });

  it('a second sync with nothing changed writes nothing', () => {
    const added = step(original(), client, [time], []);
    const again = step(added.text, client, [time], added.result.owned);
    expect(again.result.written).toEqual([]);
    expect(again.text).toBe(added.text);
  });
});
