import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigEditError, MalformedConfigError, parseConfig, type EntryLocation } from '../../src/clients/config-file/index.js';

/*
 * Golden files: test/fixtures/config-files/<case>/{missing,full}/. For each case the test adds entry NAME,
 * updates it, removes it, each step from a fresh parse of the previous text (as separate runs of Gatehouse
 * would), and compares every text byte for byte with the expected file. The fixtures carry a .gitattributes
 * so that git never converts their line endings (jsonc-map is CRLF on purpose).
 *
 * Round trips: for every "full" file, adding then removing the entry gives the original back byte for byte.
 * A "missing" file does not come back to nothing: removing the last entry leaves the empty container
 * (`{"mcpServers": {}}`, `extensions: {}`, `[mcp_servers]`, `mcp_servers = []`), by design.
 */

const FIXTURES = path.join(import.meta.dirname, '../fixtures/config-files');
const NAME = 'gatehouse-fetch';

const bridge = (extra: string[]) => ({
  command: '/usr/bin/node',
  args: ['/x/bin/gatehouse.js', 'bridge', 'fetch', ...extra],
  env: { GATEHOUSE_HOME: '/home/u/.local/share/gatehouse' },
});
const http = (port: number) => ({ type: 'http', url: `http://127.0.0.1:${port}/mcp` });
const goose = (port: number) => ({ name: NAME, type: 'streamable_http', uri: `http://127.0.0.1:${port}/mcp`, enabled: true, timeout: 60, description: '', envs: {} });

interface GoldenCase {
  dir: string;
  ext: string;
  loc: EntryLocation;
  added: Record<string, unknown>;
  updated: Record<string, unknown>;
}

const CASES: GoldenCase[] = [
  // Claude Desktop / Cursor: plain JSON, 2 spaces.
  { dir: 'json-map', ext: 'json', loc: { format: 'json', path: ['mcpServers'], shape: 'map' }, added: bridge([]), updated: bridge(['--quiet']) },
  // VS Code mcp.json: comments, trailing commas, tabs, CRLF.
  { dir: 'jsonc-map', ext: 'json', loc: { format: 'json', path: ['servers'], shape: 'map' }, added: http(43117), updated: http(43118) },
  // Amp in VS Code's settings.json: ONE key with a dot in it.
  { dir: 'json-dotted-key', ext: 'json', loc: { format: 'json', path: ['amp.mcpServers'], shape: 'map' }, added: http(43117), updated: http(43118) },
  // VS Code settings.json "mcp": { "servers": ... }: a nested path, 4 spaces.
  { dir: 'json-nested', ext: 'json', loc: { format: 'json', path: ['mcp', 'servers'], shape: 'map' }, added: bridge([]), updated: bridge(['--quiet']) },
  // Goose: a YAML map under `extensions`.
  { dir: 'yaml-map', ext: 'yaml', loc: { format: 'yaml', path: ['extensions'], shape: 'map' }, added: goose(43117), updated: goose(43118) },
  // Continue: a YAML list under `mcpServers`, items named by `name`.
  { dir: 'yaml-array', ext: 'yaml', loc: { format: 'yaml', path: ['mcpServers'], shape: 'array', idField: 'name' }, added: bridge([]), updated: bridge(['--quiet']) },
  // Codex: [mcp_servers.<name>] tables.
  { dir: 'toml-map', ext: 'toml', loc: { format: 'toml', path: ['mcp_servers'], shape: 'map' }, added: bridge([]), updated: bridge(['--quiet']) },
  // Mistral Vibe: [[mcp_servers]] array of tables, items named by `name`.
  {
    dir: 'toml-array',
    ext: 'toml',
    loc: { format: 'toml', path: ['mcp_servers'], shape: 'array', idField: 'name' },
    added: { transport: 'streamable-http', url: 'http://127.0.0.1:43117/mcp' },
    updated: { transport: 'streamable-http', url: 'http://127.0.0.1:43118/mcp' },
  },
];

/** What entries() reports for the entry: for a list, the item carries its name first. */
function stored(c: GoldenCase, value: Record<string, unknown>): unknown {
  return c.loc.shape === 'array' ? { [c.loc.idField ?? 'name']: NAME, ...value } : value;
}

function without(m: Map<string, unknown>, name: string): Map<string, unknown> {
  const copy = new Map(m);
  copy.delete(name);
  return copy;
}

describe('golden files', () => {
  for (const c of CASES) {
    for (const variant of ['missing', 'full'] as const) {
      it(`${c.dir}/${variant}`, () => {
        const file = (step: string) => path.join(FIXTURES, c.dir, variant, `${step}.${c.ext}`);
        const read = (step: string) => fs.readFileSync(file(step), 'utf8');
        const original = variant === 'full' ? read('original') : undefined;
        expect(fs.existsSync(file('original'))).toBe(variant === 'full');

        const doc = parseConfig(original, c.loc, `/cfg/${c.dir}`);
        expect(doc.text()).toBe(original ?? ''); // parsing alone changes nothing
        const others = doc.entries();
        expect(others.has(NAME)).toBe(false);
        expect(doc.remove(NAME)).toBe(false); // absent
        expect(doc.text()).toBe(original ?? '');

        doc.set(NAME, c.added);
        expect(doc.text()).toBe(read('after-add'));
        expect(doc.entries().get(NAME)).toEqual(stored(c, c.added));
        expect(without(doc.entries(), NAME)).toEqual(others);
        doc.set(NAME, c.added); // the same again: no change at all
        expect(doc.text()).toBe(read('after-add'));

        const updating = parseConfig(read('after-add'), c.loc, `/cfg/${c.dir}`);
        updating.set(NAME, c.updated);
        expect(updating.text()).toBe(read('after-update'));
        expect(updating.entries().get(NAME)).toEqual(stored(c, c.updated));
        expect(without(updating.entries(), NAME)).toEqual(others);

        const removing = parseConfig(read('after-update'), c.loc, `/cfg/${c.dir}`);
        expect(removing.remove(NAME)).toBe(true);
        expect(removing.text()).toBe(read('after-remove'));
        expect(removing.entries()).toEqual(others);
        expect(removing.remove(NAME)).toBe(false);

        if (original !== undefined) {
          // Byte-exact round trips, across parses and within one document.
          expect(read('after-remove')).toBe(original);
          const same = parseConfig(original, c.loc, `/cfg/${c.dir}`);
          same.set(NAME, c.added);
          same.set(NAME, c.updated);
          expect(same.remove(NAME)).toBe(true);
          expect(same.text()).toBe(original);
        }
      });
    }
  }
});

const CURSOR: EntryLocation = { format: 'json', path: ['mcpServers'], shape: 'map' };
const GOOSE: EntryLocation = { format: 'yaml', path: ['extensions'], shape: 'map' };
const CONTINUE: EntryLocation = { format: 'yaml', path: ['mcpServers'], shape: 'array', idField: 'name' };
const CODEX: EntryLocation = { format: 'toml', path: ['mcp_servers'], shape: 'map' };
const VIBE: EntryLocation = { format: 'toml', path: ['mcp_servers'], shape: 'array', idField: 'name' };

function malformed(fn: () => unknown): MalformedConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MalformedConfigError);
    return err as MalformedConfigError;
  }
  throw new Error('expected a MalformedConfigError');
}

describe('malformed files', () => {
  const cursorFile = path.join(os.homedir(), '.cursor', 'mcp.json');

  it('JSON syntax error: file, line, column and what to do', () => {
    const err = malformed(() => parseConfig('{\n  "mcpServers": {\n    "a": {}\n    "b": {}\n  }\n}\n', CURSOR, cursorFile));
    expect(err.file).toBe(cursorFile);
    expect([err.line, err.column]).toEqual([4, 5]);
    expect(err.detail).toBe('expected a comma');
    expect(err.message).toBe('~/.cursor/mcp.json is not valid JSON at line 4, column 5: expected a comma. Gatehouse left it untouched; fix it or move it away, then try again.');
  });

  it('JSON cut short, and other syntax errors', () => {
    expect(malformed(() => parseConfig('{\n  "mcpServers": {\n', CURSOR, '/f')).detail).toBe('expected a closing brace }');
    expect(malformed(() => parseConfig('{"a": tru}', CURSOR, '/f')).column).toBe(7);
  });

  it('YAML and TOML syntax errors carry line and column', () => {
    const y = malformed(() => parseConfig('extensions:\n  a: 1\n b: [\n', GOOSE, '/g.yaml'));
    expect(y.message).toMatch(/^\/g\.yaml is not valid YAML at line \d+, column \d+: /);
    expect(y.line).toBeGreaterThanOrEqual(3);
    const t = malformed(() => parseConfig('model = "x"\n[mcp_servers.a]\nurl = = "u"\n', CODEX, '/c.toml'));
    expect([t.line, t.column]).toEqual([3, 7]);
    expect(t.message).toMatch(/^\/c\.toml is not valid TOML at line 3, column 7: .+\. Gatehouse left it untouched; fix it or move it away, then try again\.$/);
    const dup = malformed(() => parseConfig('a = 1\na = 2\n', CODEX, '/c.toml'));
    expect(dup.line).toBe(2);
  });

  it('a YAML file holding several documents is refused', () => {
    expect(malformed(() => parseConfig('a: 1\n---\nb: 2\n', GOOSE, '/g.yaml')).message).toContain('multiple documents');
  });

  it('a root that is not an object', () => {
    expect(malformed(() => parseConfig('[]', CURSOR, '/f')).message).toBe('/f cannot be used: the top level is an array, expected an object. Gatehouse left it untouched; fix it or move it away, then try again.');
    expect(malformed(() => parseConfig('"hello"\n', CURSOR, '/f')).detail).toBe('the top level is a string, expected an object');
    expect(malformed(() => parseConfig('- a\n- b\n', GOOSE, '/f')).detail).toBe('the top level is a list, expected a map');
    expect(malformed(() => parseConfig('just text\n', GOOSE, '/f')).detail).toBe('the top level is a string, expected a map');
  });

  it('a servers key of the wrong type, named', () => {
    expect(malformed(() => parseConfig('{"mcpServers": "oops"}', CURSOR, '/f')).detail).toBe('"mcpServers" is a string, expected an object');
    expect(malformed(() => parseConfig('{"mcpServers": []}', CURSOR, '/f')).detail).toBe('"mcpServers" is an array, expected an object');
    expect(malformed(() => parseConfig('{"mcp": 3}', { format: 'json', path: ['mcp', 'servers'], shape: 'map' }, '/f')).detail).toBe('"mcp" is a number, expected an object');
    expect(malformed(() => parseConfig('{"mcp": {"servers": true}}', { format: 'json', path: ['mcp', 'servers'], shape: 'map' }, '/f')).detail).toBe('"mcp" > "servers" is a boolean, expected an object');
    expect(malformed(() => parseConfig('extensions:\n  - a\n', GOOSE, '/f')).detail).toBe('"extensions" is a list, expected a map');
    expect(malformed(() => parseConfig('mcpServers:\n  a: 1\n', CONTINUE, '/f')).detail).toBe('"mcpServers" is a map, expected a list');
    expect(malformed(() => parseConfig('mcp_servers = "x"\n', CODEX, '/f')).detail).toBe('"mcp_servers" is a string, expected a table');
    expect(malformed(() => parseConfig('[[mcp_servers]]\nname = "a"\n', CODEX, '/f')).detail).toBe('"mcp_servers" is an array, expected a table');
    expect(malformed(() => parseConfig('[mcp_servers.a]\nurl = "u"\n', VIBE, '/f')).detail).toBe('"mcp_servers" is a table, expected an array');
  });
});

describe('JSON', () => {
  it('comments and trailing commas are fine; the entry is written in the file style', () => {
    const text = '{\n  // mine\n  "mcpServers": {\n    "a": { "url": "x" }, /* kept */\n  },\n}\n';
    const doc = parseConfig(text, CURSOR, '/f');
    expect([...doc.entries().keys()]).toEqual(['a']);
    doc.set('b', { url: 'y' });
    expect(doc.text()).toBe('{\n  // mine\n  "mcpServers": {\n    "a": { "url": "x" }, /* kept */\n    "b": {\n      "url": "y"\n    },\n  },\n}\n');
    doc.remove('b');
    expect(doc.text()).toBe(text);
  });

  it('a new entry after a last member that has a comment on its line keeps the comment in place', () => {
    const text = '{\n  "mcpServers": {\n    "a": {"url": "x"} // the first\n  }\n}\n';
    const doc = parseConfig(text, CURSOR, '/f');
    doc.set('b', { url: 'y' });
    expect(doc.text()).toBe('{\n  "mcpServers": {\n    "a": {"url": "x"}, // the first\n    "b": {\n      "url": "y"\n    }\n  }\n}\n');
    doc.remove('b');
    expect(doc.text()).toBe(text);
  });

  it('removing a middle or first entry leaves the neighbours and their comments alone', () => {
    const text = '{\n  "mcpServers": {\n    "a": 1, // about a\n    "b": 2, // about b\n    "c": 3 // about c\n  }\n}\n';
    const middle = parseConfig(text, CURSOR, '/f');
    middle.remove('b');
    expect(middle.text()).toBe('{\n  "mcpServers": {\n    "a": 1, // about a\n    "c": 3 // about c\n  }\n}\n');
    const last = parseConfig(text, CURSOR, '/f');
    last.remove('c');
    expect(last.text()).toBe('{\n  "mcpServers": {\n    "a": 1, // about a\n    "b": 2 // about b\n  }\n}\n');
    expect(JSON.parse(last.text().replace(/\/\/.*$/gm, ''))).toEqual({ mcpServers: { a: 1, b: 2 } }); // still strict JSON
  });

  it('replacing an entry keeps its position', () => {
    const doc = parseConfig('{\n  "mcpServers": {\n    "a": {"url": "1"},\n    "b": {"url": "2"}\n  }\n}\n', CURSOR, '/f');
    doc.set('a', { url: '3' });
    expect(doc.text()).toBe('{\n  "mcpServers": {\n    "a": {\n      "url": "3"\n    },\n    "b": {"url": "2"}\n  }\n}\n');
  });

  it('a file on one line stays on one line', () => {
    const text = '{"mcpServers":{"a":{"url":"x"}},"other":1}';
    const doc = parseConfig(text, CURSOR, '/f');
    doc.set('b', { url: 'y' });
    expect(doc.text()).toBe('{"mcpServers":{"a":{"url":"x"}, "b": {"url":"y"}},"other":1}');
    doc.set('b', { url: 'z' });
    expect(doc.text()).toBe('{"mcpServers":{"a":{"url":"x"}, "b": {"url":"z"}},"other":1}');
    doc.remove('b');
    expect(doc.text()).toBe(text);
  });

  it('a missing container is added after the last key; an empty or null one is filled', () => {
    const doc = parseConfig('{\n  "theme": "dark"\n}\n', CURSOR, '/f');
    doc.set('a', { url: 'x' });
    expect(doc.text()).toBe('{\n  "theme": "dark",\n  "mcpServers": {\n    "a": {\n      "url": "x"\n    }\n  }\n}\n');
    const empty = parseConfig('{}', CURSOR, '/f');
    empty.set('a', { url: 'x' });
    expect(empty.text()).toBe('{\n  "mcpServers": {\n    "a": {\n      "url": "x"\n    }\n  }\n}');
    const nul = parseConfig('{\n  "mcpServers": null\n}\n', CURSOR, '/f');
    expect(nul.entries().size).toBe(0);
    nul.set('a', { url: 'x' });
    expect(nul.text()).toBe('{\n  "mcpServers": {\n    "a": {\n      "url": "x"\n    }\n  }\n}\n');
  });

  it('a missing intermediate key of a nested path is created inside the existing object', () => {
    const loc: EntryLocation = { format: 'json', path: ['mcp', 'servers'], shape: 'map' };
    const doc = parseConfig('{\n\t"mcp": {\n\t\t"inputs": []\n\t}\n}\n', loc, '/f');
    doc.set('a', { url: 'x' });
    expect(doc.text()).toBe('{\n\t"mcp": {\n\t\t"inputs": [],\n\t\t"servers": {\n\t\t\t"a": {\n\t\t\t\t"url": "x"\n\t\t\t}\n\t\t}\n\t}\n}\n');
  });

  it('a dotted key is one literal key, never a path', () => {
    const loc: EntryLocation = { format: 'json', path: ['amp.mcpServers'], shape: 'map' };
    const text = '{\n  "amp": {\n    "mcpServers": {\n      "decoy": {}\n    }\n  }\n}\n';
    const doc = parseConfig(text, loc, '/f');
    expect(doc.entries().size).toBe(0);
    doc.set('a', { url: 'x' });
    expect(doc.text()).toBe('{\n  "amp": {\n    "mcpServers": {\n      "decoy": {}\n    }\n  },\n  "amp.mcpServers": {\n    "a": {\n      "url": "x"\n    }\n  }\n}\n');
  });

  it('array-shaped JSON containers', () => {
    const loc: EntryLocation = { format: 'json', path: ['servers'], shape: 'array', idField: 'id' };
    const text = '{\n  "servers": [\n    { "id": "a" }\n  ]\n}\n';
    const doc = parseConfig(text, loc, '/f');
    doc.set('b', { id: 'ignored', url: 'y' });
    expect(doc.text()).toBe('{\n  "servers": [\n    { "id": "a" },\n    {\n      "id": "b",\n      "url": "y"\n    }\n  ]\n}\n');
    expect(doc.entries().get('b')).toEqual({ id: 'b', url: 'y' });
    doc.remove('b');
    expect(doc.text()).toBe(text);
    doc.remove('a');
    expect(doc.text()).toBe('{\n  "servers": []\n}\n');
  });

  it('a byte order mark and an empty-but-commented container are kept', () => {
    const doc = parseConfig('\uFEFF{\n  "mcpServers": {\n    // none yet\n  }\n}\n', CURSOR, '/f');
    doc.set('a', { url: 'x' });
    expect(doc.text()).toBe('\uFEFF{\n  "mcpServers": {\n    "a": {\n      "url": "x"\n    }\n    // none yet\n  }\n}\n');
  });
});

describe('YAML', () => {
  it('an empty flow container becomes a block, and comes back to {} when emptied', () => {
    const text = 'GOOSE_PROVIDER: openai\nextensions: {}  # none yet\nGOOSE_MODE: auto\n';
    const doc = parseConfig(text, GOOSE, '/f');
    doc.set('a', { uri: 'x', enabled: true });
    expect(doc.text()).toBe('GOOSE_PROVIDER: openai\nextensions:  # none yet\n  a:\n    uri: x\n    enabled: true\nGOOSE_MODE: auto\n');
    doc.remove('a');
    expect(doc.text()).toBe('GOOSE_PROVIDER: openai\nextensions: {}  # none yet\nGOOSE_MODE: auto\n');
  });

  it('an empty value (`extensions:`) is filled', () => {
    const doc = parseConfig('extensions:\nother: 1\n', GOOSE, '/f');
    doc.set('a', { uri: 'x' });
    expect(doc.text()).toBe('extensions:\n  a:\n    uri: x\nother: 1\n');
  });

  it('a flow list of other entries is rewritten as a block list, with the same data', () => {
    const doc = parseConfig('mcpServers: [{name: a, command: x}]\nother: 1\n', CONTINUE, '/f');
    doc.set('b', { command: 'y' });
    expect(doc.text()).toBe('mcpServers:\n  - name: a\n    command: x\n  - name: b\n    command: y\nother: 1\n');
  });

  it('replacing an entry keeps its position and the comments around it', () => {
    const text = 'extensions:\n  # first\n  a:\n    uri: one\n  # second\n  b:\n    uri: two\n';
    const doc = parseConfig(text, GOOSE, '/f');
    doc.set('a', { uri: 'three' });
    expect(doc.text()).toBe('extensions:\n  # first\n  a:\n    uri: three\n  # second\n  b:\n    uri: two\n');
    doc.remove('a');
    expect(doc.text()).toBe('extensions:\n  # first\n  # second\n  b:\n    uri: two\n');
  });

  it('CRLF, 4-space indentation and unindented lists are detected', () => {
    const doc = parseConfig('mcpServers:\r\n- name: a\r\n  args:\r\n  - x\r\n', { ...CONTINUE }, '/f');
    doc.set('b', { args: ['y'] });
    expect(doc.text()).toBe('mcpServers:\r\n- name: a\r\n  args:\r\n  - x\r\n- name: b\r\n  args:\r\n  - y\r\n');
    const four = parseConfig('extensions:\n    a:\n        uri: x\n', GOOSE, '/f');
    four.set('b', { env: { K: 'v' } });
    expect(four.text()).toBe('extensions:\n    a:\n        uri: x\n    b:\n        env:\n            K: v\n');
  });

  it('a file without a final line break, and one with only comments', () => {
    const doc = parseConfig('extensions:\n  a:\n    uri: x', GOOSE, '/f');
    doc.set('b', { uri: 'y' });
    expect(doc.text()).toBe('extensions:\n  a:\n    uri: x\n  b:\n    uri: y\n');
    const comments = parseConfig('# nothing here yet\n', GOOSE, '/f');
    comments.set('b', { uri: 'y' });
    expect(comments.text()).toBe('# nothing here yet\nextensions:\n  b:\n    uri: y\n');
  });

  it('a document that is just {} becomes a block document', () => {
    const doc = parseConfig('{}\n', GOOSE, '/f');
    doc.set('a', { uri: 'x' });
    expect(doc.text()).toBe('extensions:\n  a:\n    uri: x\n');
  });

  it('strings that look like other types are quoted', () => {
    const doc = parseConfig(undefined, GOOSE, '/f');
    doc.set('a', { s: 'true', n: '0123', e: '', c: 'a: b', h: '#x' });
    expect(doc.text()).toBe('extensions:\n  a:\n    s: "true"\n    n: "0123"\n    e: ""\n    c: "a: b"\n    h: "#x"\n');
    expect(doc.entries().get('a')).toEqual({ s: 'true', n: '0123', e: '', c: 'a: b', h: '#x' });
  });
});

describe('TOML', () => {
  it('an entry with a sub-table is replaced, then removed, as a whole', () => {
    const text = '[mcp_servers.x]\ncommand = "a"\n\n[mcp_servers.x.env]\nK = "v"\n\n# y\n[mcp_servers.y]\nurl = "u"\n';
    const doc = parseConfig(text, CODEX, '/f');
    doc.set('x', { url: 'w' });
    expect(doc.text()).toBe('[mcp_servers.x]\nurl = "w"\n\n# y\n[mcp_servers.y]\nurl = "u"\n');
    doc.remove('x');
    expect(doc.text()).toBe('# y\n[mcp_servers.y]\nurl = "u"\n');
  });

  it('entries written inline are edited through toml-patch (data verified)', () => {
    const doc = parseConfig('[mcp_servers]\nfoo = { url = "x" }  # inline\nbar = { url = "y" }\n\n[other]\nk = 1\n', CODEX, '/f');
    doc.set('foo', { url: 'z' });
    expect(doc.text()).toBe('[mcp_servers]\nfoo = { url = "z" }  # inline\nbar = { url = "y" }\n\n[other]\nk = 1\n');
    doc.remove('bar');
    expect(doc.text()).toBe('[mcp_servers]\nfoo = { url = "z" }  # inline\n\n[other]\nk = 1\n');
    doc.set('new', { url: 'n' });
    expect(doc.text()).toBe('[mcp_servers]\nfoo = { url = "z" }  # inline\n\n[other]\nk = 1\n\n[mcp_servers.new]\nurl = "n"\n');
    const array = parseConfig('mcp_servers = [{ name = "a", url = "u" }]\n', VIBE, '/f');
    array.set('b', { url: 'v' });
    expect(array.entries().get('b')).toEqual({ name: 'b', url: 'v' });
    expect([...array.entries().keys()]).toEqual(['a', 'b']);
  });

  it('keys that are not bare are quoted; CRLF is kept', () => {
    const doc = parseConfig('model = "x"\r\n', CODEX, '/f');
    doc.set('my server', { env: { 'A.B': 'v' }, args: [] });
    expect(doc.text()).toBe('model = "x"\r\n\r\n[mcp_servers."my server"]\r\nenv = { "A.B" = "v" }\r\nargs = []\r\n');
    expect(doc.entries().get('my server')).toEqual({ env: { 'A.B': 'v' }, args: [] });
  });

  it('CRLF files: replacing and removing a table in the middle', () => {
    const text = 'a = 1\r\n\r\n[[mcp_servers]]\r\nname = "x"\r\nurl = """\r\nmulti\r\n"""\r\n\r\n[mcp_servers.headers]\r\nK = "v"\r\n# about y\r\n[[mcp_servers]]\r\nname = "y"\r\n';
    const doc = parseConfig(text, VIBE, '/f');
    doc.set('x', { url: 'u' });
    expect(doc.text()).toBe('a = 1\r\n\r\n[[mcp_servers]]\r\nname = "x"\r\nurl = "u"\r\n# about y\r\n[[mcp_servers]]\r\nname = "y"\r\n');
    doc.remove('x');
    expect(doc.text()).toBe('a = 1\r\n\r\n# about y\r\n[[mcp_servers]]\r\nname = "y"\r\n');
  });

  it('removing the last item of an array of tables in a file with other keys leaves mcp_servers = []', () => {
    const doc = parseConfig('model = "x"\n\n[[mcp_servers]]\nname = "a"\n\n[tools]\nk = 1\n', VIBE, '/f');
    doc.remove('a');
    expect(doc.entries().size).toBe(0);
    expect(doc.text()).toBe('model = "x"\nmcp_servers = []\n\n[tools]\nk = 1\n');
  });
});

describe('refusals', () => {
  it('a value the format cannot hold is refused without echoing it', () => {
    const doc = parseConfig('a = 1\n', CODEX, '/home/u/.codex/config.toml');
    let err: unknown;
    try {
      doc.set('x', { a: [null, 'SECRET-VALUE-123'] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigEditError);
    expect((err as Error).message).toContain('/home/u/.codex/config.toml');
    expect((err as Error).message).not.toContain('SECRET-VALUE-123');
    expect(doc.text()).toBe('a = 1\n');
  });

  it('an empty path is a programming error', () => {
    expect(() => parseConfig('{}', { format: 'json', path: [], shape: 'map' }, '/f')).toThrow(TypeError);
  });
});
