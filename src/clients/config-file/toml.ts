import { TomlFormat, parse, parseDocument, patch } from '@decimalturn/toml-patch';
import { MalformedConfigError } from './errors.js';
import {
  TextConfigDocument,
  applyToModel,
  arrayItem,
  containerIn,
  detectEol,
  idFieldOf,
  indexOfItem,
  toPlainJson,
  type Candidate,
  type EntryLocation,
  type PlainObject,
} from './types.js';

/*
 * Gatehouse's entries are whole tables: `[mcp_servers.<name>]` (map) or `[[mcp_servers]]` with `name = ...`
 * (array), their values written inline (`args = [...]`, `env = { ... }`) so that an entry is one run of lines.
 * Those runs are found from toml-patch's syntax tree: a new entry is appended at the end of the file, an
 * existing one is replaced or deleted where it is. toml-patch's `patch` is the fallback for layouts this does
 * not cover (entries written as inline tables or dotted keys, an empty `mcp_servers = []` to write): it keeps
 * the rest of the file but may move comments and blank lines near the change, and adds a new table as a dotted
 * key at the top of the file.
 */

/** The parts of toml-patch's syntax tree used here (its node types are not exported). */
interface CstNode {
  type: string;
  loc: { start: { line: number }; end: { line: number } };
}
interface CstTable extends CstNode {
  key: { item: { value: string[] } };
  items: CstNode[];
}

/** A `[table]` or `[[array]]` header and its key/value lines (comments after the last one are not part of it). */
interface Block {
  array: boolean;
  key: readonly string[];
  firstLine: number;
  lastLine: number;
}

function blocks(text: string): Block[] {
  const cst = parseDocument(text).cst as unknown as CstNode[];
  const out: Block[] = [];
  for (const node of cst) {
    if (node.type !== 'Table' && node.type !== 'TableArray') continue;
    const table = node as CstTable;
    const firstLine = table.loc.start.line;
    let lastLine = firstLine;
    for (const item of table.items) if (item.type === 'KeyValue') lastLine = Math.max(lastLine, item.loc.end.line);
    out.push({ array: node.type === 'TableArray', key: table.key.item.value, firstLine, lastLine });
  }
  return out;
}

function startsWith(key: readonly string[], prefix: readonly string[]): boolean {
  return key.length >= prefix.length && prefix.every((k, i) => key[i] === k);
}

/** A key as TOML writes it: bare when it can be, otherwise a basic string (JSON's escapes are TOML's). */
function tomlKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
}

/** The text split into lines, each keeping its line break; line n (1-based) is lines[n - 1]. */
function splitLines(text: string): string[] {
  return text === '' ? [] : text.split(/(?<=\n)/);
}

/** Whether the file writes `[ 1, 2 ]` or `[1, 2]`, `{ a = 1 }` or `{a = 1}` (default: `[1, 2]` and `{ a = 1 }`, as taplo and the TOML spec do). */
function detectSpacing(text: string): { array: string; table: string } {
  const array = /=[ \t]*\[( ?)[^\s\]]/m.exec(text)?.[1] ?? '';
  const table = /=[ \t]*\{( ?)[^\s}]/m.exec(text)?.[1] ?? ' ';
  return { array, table };
}

/**
 * A JSON value as an inline TOML value: strings as basic strings (JSON's escapes are TOML's, plus DEL, which
 * TOML wants escaped), arrays and tables inline. toml-patch's stringify has one spacing setting for both
 * brackets and braces, where files usually differ (`["a"]` but `{ k = "v" }`).
 */
function tomlValue(v: unknown, sp: { array: string; table: string }): string {
  if (typeof v === 'string') return JSON.stringify(v).replace(/\x7f/g, '\\u007F');
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.length === 0 ? '[]' : `[${sp.array}${v.map((x) => tomlValue(x, sp)).join(', ')}${sp.array}]`;
  if (typeof v === 'object' && v !== null) {
    const items = Object.entries(v).map(([k, x]) => `${tomlKey(k)} = ${tomlValue(x, sp)}`);
    return items.length === 0 ? '{}' : `{${sp.table}${items.join(', ')}${sp.table}}`;
  }
  throw new TypeError('a TOML value must not be null'); // the JSON round trip leaves nothing else
}

const isBlank = (line: string | undefined): boolean => line !== undefined && line.trim() === '';

class TomlConfigDocument extends TextConfigDocument {
  constructor(text: string | undefined, loc: EntryLocation, file: string) {
    super(text, loc, file, { syntax: 'TOML', object: 'a table', array: 'an array' });
  }

  protected parse(text: string): unknown {
    if (text === '') return undefined;
    try {
      return parse(text) as unknown;
    } catch (err) {
      const e = err as { message?: unknown; line?: unknown; column?: unknown };
      const message = typeof e.message === 'string' ? e.message : String(err);
      const detail = message.trim().split('\n').at(-1) ?? message; // "Error parsing TOML (l, c):\n<line>\n^\n<what>"
      const where = typeof e.line === 'number' && typeof e.column === 'number' ? { line: e.line, column: e.column + 1 } : {};
      throw new MalformedConfigError(this.file, detail, { syntax: 'TOML', ...where });
    }
  }

  protected candidates(name: string, value: PlainObject | undefined): Candidate[] {
    let own: { text: string | undefined } | undefined; // computed once, on first use
    const ownText = (): string | undefined => (own ??= { text: this.ownEdit(name, value, false) }).text;
    const viaPatch = (base: () => string | undefined) => (): string | undefined => {
      const text = base();
      if (text === undefined) return undefined;
      const expected = this.model(this.current);
      applyToModel(expected, this.loc, name, value);
      const format: Partial<TomlFormat> = { ...TomlFormat.autoDetectFormat(text), newLine: detectEol(text) };
      if (text === '' || text.endsWith('\n')) format.trailingNewline = 1;
      return patch(text, expected, format);
    };
    return [
      ownText,
      // Removing the last `[mcp_servers.x]` can leave no mention of `mcp_servers`: keep an empty `[mcp_servers]`.
      () => (value === undefined && this.loc.shape === 'map' ? this.ownEdit(name, value, true) : undefined),
      // Removing the last `[[mcp_servers]]` needs `mcp_servers = []` among the root keys: toml-patch places it.
      viaPatch(ownText),
      viaPatch(() => this.current),
    ];
  }

  /** The entry's run of lines (1-based, inclusive), undefined when absent or not written as tables. */
  private entryLines(text: string, name: string): { first: number; last: number } | undefined {
    const { path } = this.loc;
    const all = blocks(text);
    let first: number;
    let count: number;
    if (this.loc.shape === 'map') {
      const prefix = [...path, name];
      const mine = all.map((b, i) => (startsWith(b.key, prefix) ? i : -1)).filter((i) => i >= 0);
      first = mine[0] ?? -1;
      count = mine.length;
      if (mine.some((b, k) => b !== first + k)) return undefined; // not one contiguous run: leave it to patch
    } else {
      const items = containerIn(this.model(text), path);
      const at = Array.isArray(items) ? indexOfItem(items, idFieldOf(this.loc), name) : -1;
      const heads = all.map((b, i) => (b.array && b.key.length === path.length && startsWith(b.key, path) ? i : -1)).filter((i) => i >= 0);
      first = heads[at] ?? -1;
      // The item's sub-tables ([mcp_servers.env], [[mcp_servers.x]]) follow its header.
      const isSubTable = (b: Block | undefined): boolean => b !== undefined && b.key.length > path.length && startsWith(b.key, path);
      count = 1;
      while (first >= 0 && isSubTable(all[first + count])) count++;
    }
    const head = all[first];
    const tail = all[first + count - 1];
    return head && tail ? { first: head.firstLine, last: tail.lastLine } : undefined;
  }

  private render(name: string, value: PlainObject, eol: string): string {
    const { path } = this.loc;
    const body = this.loc.shape === 'map' ? toPlainJson(value) : arrayItem(idFieldOf(this.loc), name, value);
    const header = this.loc.shape === 'map' ? `[${[...path, name].map(tomlKey).join('.')}]` : `[[${path.map(tomlKey).join('.')}]]`;
    const style = detectSpacing(this.current);
    return [header, ...Object.entries(body).map(([k, v]) => `${tomlKey(k)} = ${tomlValue(v, style)}`)].join(eol) + eol;
  }

  /** The edit as whole lines; `keepContainer`: a removed map entry is replaced by its container's bare header. */
  private ownEdit(name: string, value: PlainObject | undefined, keepContainer: boolean): string | undefined {
    const text = this.current;
    const eol = detectEol(text);
    const lines = splitLines(text);
    const span = this.entryLines(text, name);
    if (value !== undefined) {
      const block = this.render(name, value, eol);
      if (span) {
        const replaced = span.last === lines.length && !text.endsWith('\n') ? block.slice(0, -eol.length) : block;
        return [...lines.slice(0, span.first - 1), replaced, ...lines.slice(span.last)].join('');
      }
      if (this.entries().has(name)) return undefined; // present, but not as tables of its own
      if (text === '') return block;
      let out = text.endsWith('\n') ? text : text + eol;
      if (!/\n[ \t]*\r?\n$/.test(out) && out.trim() !== '') out += eol; // one blank line before the new table
      return out + block;
    }
    if (!span) return undefined;
    if (keepContainer) {
      const header = `[${this.loc.path.map(tomlKey).join('.')}]${eol}`;
      return [...lines.slice(0, span.first - 1), header, ...lines.slice(span.last)].join('');
    }
    // Delete the lines, and the blank lines that separated them from what follows (or, at the end of the file,
    // from what precedes), so that adding then removing an entry gives the file back as it was.
    let from = span.first;
    let to = span.last;
    while (isBlank(lines[to])) to++;
    if (to === lines.length) while (from > 1 && isBlank(lines[from - 2])) from--;
    return [...lines.slice(0, from - 1), ...lines.slice(to)].join('');
  }
}

export function parseToml(text: string | undefined, loc: EntryLocation, file: string): TomlConfigDocument {
  return new TomlConfigDocument(text, loc, file);
}
