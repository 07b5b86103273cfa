import { describe, expect, it } from 'vitest';
import {
  classify,
  decodeHeaderValue,
  encodeHeaderValue,
  foldName,
  knownMethods,
  McpFrameError,
  methodSpec,
  parseBody,
  parseFrame,
  parseStrictJson,
  StrictJsonError,
  wireHeaderMismatch,
} from '../../src/mcp/index.js';
import { SeededRandom } from '../support/seeded-random.js';

const problemOf = (text: string): string | undefined => {
  try {
    parseStrictJson(text);
    return undefined;
  } catch (err) {
    if (err instanceof StrictJsonError) return err.problem;
    throw err;
  }
};

describe('strict JSON', () => {
  it('refuses duplicate member names at any depth, and keeps everything else as JSON.parse reads it', () => {
    expect(problemOf('{"a":1,"a":2}')).toBe('duplicate-name');
    expect(problemOf('{"x":{"y":[{"z":1,"z":1}]}}')).toBe('duplicate-name');
    // An escape spells the same name: still a duplicate.
    expect(problemOf('{"name":"echo","n\\u0061me":"delete_repo"}')).toBe('duplicate-name');
    expect(parseStrictJson('{"a":{"a":1},"b":[{"a":2},{"a":3}]}')).toEqual({ a: { a: 1 }, b: [{ a: 2 }, { a: 3 }] });
    // Colons, quotes and backslashes inside strings are payload, not structure.
    expect(problemOf('{"a":"x\\":y","a":1}')).toBe('duplicate-name');
    expect(problemOf('{"k\\\\":1,"k\\\\":2}')).toBe('duplicate-name');
    expect(problemOf('[{"u":"http://a:b@c:80"},{"v":"::"},{"u":1,"w":[{"u":2,"u":3}]}]')).toBe('duplicate-name');
    expect(parseStrictJson('{"u":"http://a:b@c","q":"\\":","w":"\\\\","x:y":":"}')).toEqual({ u: 'http://a:b@c', q: '":', w: '\\', 'x:y': ':' });
  });

  it('refuses names that case-insensitive readers (Go) take for one: ASCII case, ſ, the Kelvin sign, Greek sigma', () => {
    expect(problemOf('{"params":{"name":"echo","Name":"delete_repo"}}')).toBe('folded-name');
    expect(problemOf('{"params":{},"paramſ":{}}')).toBe('folded-name');
    expect(problemOf('{"kind":1,"\u212Aind":2}')).toBe('folded-name');
    expect(problemOf('{"Σ":1,"ς":2}')).toBe('folded-name');
    expect(foldName('PARAMſ')).toBe(foldName('params'));
    expect(problemOf('{"name":1,"names":2}')).toBeUndefined();
  });

  it('refuses numbers a double cannot hold, lone surrogates and deep nesting; JSON syntax errors are syntax', () => {
    expect(problemOf('{"n":1e400}')).toBe('number-range');
    expect(problemOf('{"n":-1e309}')).toBe('number-range');
    expect(problemOf('{"s":"\\ud800"}')).toBe('lone-surrogate');
    expect(problemOf('{"\\udc00":1}')).toBe('lone-surrogate');
    expect(problemOf('{"s":"\\ud83d\\ude00"}')).toBeUndefined();
    expect(problemOf(`${'['.repeat(65)}${']'.repeat(65)}`)).toBe('too-deep');
    expect(problemOf(`${'['.repeat(60)}${']'.repeat(60)}`)).toBeUndefined();
    for (const bad of ['{"a":1,}', '{a:1}', "{'a':1}", '{"a":1} x', '', 'NaN', '{"a":01}', '/*c*/{}']) expect(problemOf(bad), bad).toBe('syntax');
  });

  it('equals JSON.parse on generated unambiguous documents', () => {
    const rnd = new SeededRandom(11);
    const names = ['a', 'b', 'name', 'Nam', 'params', 'ü', '😀', 'x y', 'id', 'ſx'];
    const value = (depth: number): unknown =>
      rnd.weighted<unknown>([
        [3, () => rnd.pick(['', 'text', 'ü✓', '\n\t"\\', '😀'])],
        [2, () => rnd.between(-1e6, 1e6) / rnd.pick([1, 3, 1000])],
        [1, () => rnd.chance(0.5)],
        [1, () => null],
        [depth < 6 ? 2 : 0, () => Array.from({ length: rnd.below(4) }, () => value(depth + 1))],
        [
          depth < 6 ? 3 : 0,
          () => {
            const o: Record<string, unknown> = {};
            const used = new Set<string>();
            for (const n of rnd.subset(names, 0.3)) {
              if (used.has(foldName(n))) continue;
              used.add(foldName(n));
              o[n] = value(depth + 1);
            }
            return o;
          },
        ],
      ]);
    for (let i = 0; i < 2_000; i++) {
      const text = JSON.stringify(value(0));
      expect(parseStrictJson(text)).toEqual(JSON.parse(text));
    }
  });
});

describe('request bodies', () => {
  const status = (bytes: Uint8Array | string): number | 'ok' => {
    try {
      parseBody(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes);
      return 'ok';
    } catch (err) {
      if (err instanceof McpFrameError) return err.status;
      throw err;
    }
  };

  it('reads UTF-8 only: a byte order mark, invalid UTF-8 and UTF-16 are refused', () => {
    const msg = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
    expect(status(msg)).toBe('ok');
    expect(status(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(msg)]))).toBe(400);
    expect(status(Buffer.from(msg, 'utf16le'))).toBe(400);
    expect(status(Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\xe9"}}', 'latin1'))).toBe(400);
  });

  it('classifies the envelope strictly, as the MCP SDK does', () => {
    expect(classify({ jsonrpc: '2.0', id: 1, method: 'x', result: {} })).toHaveProperty('invalid');
    expect(classify({ jsonrpc: '2.0', id: 1, result: {}, error: { code: 1, message: 'm' } })).toHaveProperty('invalid');
    expect(classify({ jsonrpc: '2.0', id: 1.5, method: 'x' })).toHaveProperty('invalid');
    expect(classify({ jsonrpc: '2.0', id: 2 ** 53 + 2, method: 'x' })).toHaveProperty('invalid');
    expect(classify({ jsonrpc: '2.0', id: 1, method: 'x', params: [] })).toHaveProperty('invalid');
    expect(classify({ jsonrpc: '2.0', method: 'x', extra: 1 })).toHaveProperty('invalid');
    expect(classify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'm' } })).toHaveProperty('kind', 'response');
    expect(classify({ jsonrpc: '2.0', id: 'a', method: 'x', params: {} })).toHaveProperty('kind', 'request');
  });

  it('parses a frame once: method spec, target, arguments; a batch with two requests of one id is refused', () => {
    const f = parseFrame('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"},"_meta":{"progressToken":1}}}');
    const m = f.messages[0]!;
    expect([m.kind, m.id, m.method, m.target, m.spec?.authorization.kind]).toEqual(['request', 7, 'tools/call', 'echo', 'feature']);
    expect(m.arguments).toEqual({ message: 'hi' });
    expect(m.meta).toEqual({ progressToken: 1 });
    expect(f.canonical).toBe('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"},"_meta":{"progressToken":1}}}');
    expect(() => parseFrame('[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":1,"method":"tools/list"}]')).toThrow(McpFrameError);
    expect(() => parseFrame('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":["x"]}}')).toThrow(/arguments must be an object/);
    expect(() => parseFrame('[]')).toThrow(/empty batch/);
  });

  it('serializes what it parsed: whitespace, escapes and key order as JSON.stringify writes them', () => {
    const f = parseFrame(' { "jsonrpc" : "2.0" , "id" : 1 , "method" : "tools/call" , "params" : { "name" : "\\u0065cho" } } ');
    expect(f.canonical).toBe('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}');
  });
});

describe('the method table', () => {
  it('finds own entries only: Object.prototype names are unknown', () => {
    for (const m of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__', 'toLocaleString']) expect(methodSpec(m), m).toBeUndefined();
    expect(methodSpec('tools/call')?.target).toBe('name');
    expect(methodSpec('features/list')?.authorization.kind).toBe('unfiltered-list');
    expect(methodSpec('subscriptions/listen')?.authorization.kind).toBe('listen');
    expect(new Set(knownMethods().map((s) => s.method)).size).toBe(knownMethods().length);
  });
});

describe('2026-07-28 wire headers', () => {
  const call = parseFrame('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"café"}}').messages[0]!;

  it('encodes values that are not plain ASCII, and decodes them back', () => {
    expect(encodeHeaderValue('echo')).toBe('echo');
    expect(decodeHeaderValue(encodeHeaderValue('café'))).toBe('café');
    expect(encodeHeaderValue(' padded')).toMatch(/^=\?base64\?/);
  });

  it('refuses headers that say something else than the body, or are sent twice', () => {
    expect(wireHeaderMismatch({ 'mcp-method': 'tools/call', 'mcp-name': encodeHeaderValue('café') }, call, true)).toBeUndefined();
    expect(wireHeaderMismatch({ 'mcp-method': 'tools/call', 'mcp-name': 'echo' }, call, true)).toMatch(/Mcp-Name/);
    expect(wireHeaderMismatch({ 'mcp-method': 'tools/list', 'mcp-name': encodeHeaderValue('café') }, call, true)).toMatch(/Mcp-Method/);
    expect(wireHeaderMismatch({ 'mcp-method': 'tools/call' }, call, true)).toMatch(/Mcp-Name/);
    expect(wireHeaderMismatch({}, call, false)).toBeUndefined();
    expect(wireHeaderMismatch({ 'mcp-method': ['tools/call', 'tools/call'] } as never, call, false)).toMatch(/once/);
  });
});
