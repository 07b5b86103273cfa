import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { startTestCore, type TestCore } from '../support/core-harness.js';

const GUIDE = path.resolve(import.meta.dirname, '../../../shared/reference/toolhive-docs/000_0aa32fa99b254e52.txt');

/** The guide's authz-config example ("Here's an example in JSON format"), as its text is written. */
function guideJson(): string {
  const text = fs.readFileSync(GUIDE, 'utf8');
  const start = text.indexOf("Here's an example in JSON format:\n");
  const end = text.indexOf('\nYou can also define custom resource attributes', start);
  if (start < 0 || end < 0) throw new Error(`The guide's JSON example is not in ${GUIDE}`);
  return `${text.slice(start + "Here's an example in JSON format:\n".length, end)}\n`;
}

/** A YAML file as people keep them: comments, its own key order, quoting and CRLF line ends, non-ASCII text. */
const YAML_FILE = [
  '# Calculator access — reviewed by the platform team (ünïcode in a comment)',
  'cedar:',
  '  # anyone may ask for the weather',
  '  policies:',
  "    - 'permit(principal, action == Action::\"call_tool\", resource == Tool::\"weather\");'",
  '    - >-',
  '      permit(principal, action == Action::"call_tool", resource == Tool::"calculator")',
  '      when { resource.arg_operation == "add" };',
  "  entities_json: '[]'   # no custom entities",
  'type: cedarv1',
  'version: "1.0"',
  '',
].join('\r\n');

/**
 * A policy set's files, byte for byte: a file saved with `policy save` (or `run --authz-config`) is
 * exported as that very file while the policies are those it holds (its comments, key order and
 * layout kept), in its own syntax; the other syntax, or a set edited since, is written from the config.
 */
describe("a policy set's file, exported as it was saved", () => {
  let t: TestCore;
  const write = (name: string, text: string) => {
    const file = path.join(t.home, name);
    fs.writeFileSync(file, text);
    return file;
  };
  const cli = async (args: string[]) => {
    const r = await runCli(t.home, args);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    t = await startTestCore();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("gives back the guide's JSON and a commented YAML file unchanged, in their own syntax, and writes the other syntax from the config", async () => {
    const json = guideJson();
    await cli(['policy', 'save', 'guide', write('authz-config.json', json)]);
    expect(await cli(['policy', 'export', 'guide'])).toBe(json);
    expect(await cli(['policy', 'export', 'guide', '--json'])).toBe(json);
    const asYaml = await cli(['policy', 'export', 'guide', '--yaml']);
    expect(asYaml).not.toBe(json);
    expect(asYaml).toContain('type: cedarv1');

    await cli(['policy', 'save', 'calc', write('calc.yaml', YAML_FILE)]);
    expect(await cli(['policy', 'export', 'calc'])).toBe(YAML_FILE);
    const out = path.join(t.home, 'exported.yaml');
    expect(await cli(['policy', 'export', 'calc', '--yaml', '-o', out])).toContain('the file this version was saved from, unchanged');
    expect(fs.readFileSync(out)).toEqual(Buffer.from(YAML_FILE, 'utf8'));
    // The export is still what --authz-config takes: the same config back.
    const written = JSON.parse(await cli(['policy', 'export', 'calc', '--json']));
    expect(written).toEqual((await t.api.policy({ name: 'calc' })).config);
    expect((await t.api.policyHistory({ name: 'calc' })).map((v) => v.file)).toEqual(['yaml']);
  });

  it('a revert exports the reverted version\'s file again; a config saved without its file is written out', async () => {
    await cli(['policy', 'save', 'rev', write('rev.yaml', YAML_FILE)]);
    const v1 = await t.api.policy({ name: 'rev', version: 1 });
    // A change through the API (the app's editor) keeps no file: its export is written from the config.
    const edited = structuredClone(v1.config) as { cedar: { policies: string[] } };
    edited.cedar.policies = [edited.cedar.policies[0]!];
    await t.api.savePolicy({ name: 'rev', config: edited, note: 'edited' });
    const v2 = await t.api.exportPolicy({ name: 'rev' });
    expect(v2).toMatchObject({ format: 'json', original: false });
    expect(JSON.parse(v2.text)).toEqual(edited);
    // Reverting (the app's Revert sends version 1's config) brings version 1's file back.
    const reverted = await t.api.savePolicy({ name: 'rev', config: v1.config, note: 'reverted to version 1' });
    expect(reverted).toMatchObject({ version: 3, file: 'yaml' });
    expect((await t.api.exportPolicy({ name: 'rev' })).text).toBe(YAML_FILE);
    expect((await t.api.exportPolicy({ name: 'rev', version: 2, format: 'yaml' })).original).toBe(false);
  });

  it('keeps a file only when it reads as the config saved with it; a ConfigMap keeps its authz-config, an MCPServer nothing', async () => {
    const other = { version: '1.0', type: 'cedarv1', cedar: { policies: ['forbid(principal, action, resource);'] } };
    const saved = await t.api.savePolicy({ name: 'mismatch', config: other, source: { text: YAML_FILE, fileName: 'calc.yaml' } });
    expect(saved.file).toBeNull();
    expect(JSON.parse((await t.api.exportPolicy({ name: 'mismatch' })).text)).toEqual(other);

    const inner = '{\n    "version": "1.0", "type": "cedarv1",\n    "cedar": { "policies": ["permit(principal, action == Action::\\"call_tool\\", resource == Tool::\\"weather\\");"], "entities_json": "[]" }\n}\n';
    const configMap = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: authz-config\n  namespace: toolhive-system\ndata:\n  authz-config.json: |\n${inner
      .split('\n')
      .filter(Boolean)
      .map((l) => `    ${l}`)
      .join('\n')}\n`;
    await cli(['policy', 'save', 'cm', write('authz-configmap.yaml', configMap)]);
    const fromMap = await t.api.exportPolicy({ name: 'cm' });
    expect(fromMap).toMatchObject({ format: 'json', original: true });
    expect(fromMap.text).toBe(inner);

    const mcpServer = [
      'apiVersion: toolhive.stacklok.dev/v1alpha1',
      'kind: MCPServer',
      'metadata:',
      '  name: weather',
      'spec:',
      '  image: example/weather',
      '  env:',
      '    - name: API_KEY',
      '      value: not-for-a-policy-file',
      '  authzConfig:',
      '    type: inline',
      '    inline:',
      '      policies:',
      "        - 'permit(principal, action, resource);'",
      '',
    ].join('\n');
    await cli(['policy', 'save', 'mcp', write('mcpserver.yaml', mcpServer)]);
    const fromServer = await t.api.exportPolicy({ name: 'mcp', format: 'yaml' });
    expect(fromServer.original).toBe(false);
    expect(fromServer.text).not.toContain('API_KEY');
  });

  it('refuses a file that does not read, saying where, and saves nothing', async () => {
    const bad = await t.api.savePolicy({ name: 'bad', config: { version: '1.0', type: 'cedarv1', cedar: { policies: ['permit(principal, action, resource);'] } }, source: { text: 'cedar: [\n', fileName: 'broken.yaml' } }).catch((e: unknown) => e as Error);
    expect((bad as Error).message).toMatch(/broken\.yaml is not valid YAML or JSON/);
    expect((await t.api.policies()).map((p) => p.name)).not.toContain('bad');
  });
});
