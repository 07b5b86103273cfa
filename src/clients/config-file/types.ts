import { ConfigEditError, MalformedConfigError } from './errors.js';

/** 'json' means JSON with comments and trailing commas tolerated (JSONC). */
export type ConfigFormat = 'json' | 'yaml' | 'toml';

/** Where a client keeps its MCP servers inside its configuration file. */
export interface EntryLocation {
  format: ConfigFormat;
  /**
   * Keys from the document root to the servers container, each one literal: ['mcpServers'], ['servers'],
   * ['amp.mcpServers'] (ONE key that contains a dot), ['mcp'], ['context_servers'], ['extensions'], ['mcp_servers'].
   */
  path: readonly string[];
  /** 'map': entries keyed by name under path; 'array': entries are items of an array under path, identified by idField (e.g. 'name'). */
  shape: 'map' | 'array';
  idField?: string;
}

export interface ConfigDocument {
  /** Entries present under the location, by name, as plain JS values. */
  entries(): Map<string, unknown>;
  /** Adds or replaces entry `name` (for 'array' shape the item gets idField: name, placed first). Replacing keeps the entry's position. */
  set(name: string, value: Record<string, unknown>): void;
  /** Removes entry `name`; false when absent. Removing the last entry leaves an empty container (`{}` / `[]`), never deletes the key. */
  remove(name: string): boolean;
  /** The edited text; when nothing changed, the original text byte for byte. */
  text(): string;
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the three format implementations (not part of the public API).
// ---------------------------------------------------------------------------------------------

export type PlainObject = Record<string, unknown>;

export function isPlainObject(v: unknown): v is PlainObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** The line ending of the first line, so a CRLF file stays CRLF. */
export function detectEol(text: string): '\n' | '\r\n' {
  const i = text.indexOf('\n');
  return i > 0 && text[i - 1] === '\r' ? '\r\n' : '\n';
}

/** Offset of the start of the line holding `pos`. */
export function lineStart(text: string, pos: number): number {
  return text.lastIndexOf('\n', pos - 1) + 1;
}

/** Offset just past the end of the line holding `pos` (after its '\n'); `pos` itself when it already starts a line. */
export function lineEndAfter(text: string, pos: number): number {
  if (pos > 0 && text[pos - 1] === '\n') return pos;
  const i = text.indexOf('\n', pos);
  return i < 0 ? text.length : i + 1;
}

/**
 * Values Gatehouse writes are JSON data; a round trip through JSON drops `undefined` members and
 * makes the expected value comparable with what the parsers give back.
 */
export function toPlainJson(value: PlainObject): PlainObject {
  return JSON.parse(JSON.stringify(value)) as PlainObject;
}

/** The item written for an 'array' location: the id field first, then the value's other fields. */
export function arrayItem(idField: string, name: string, value: PlainObject): PlainObject {
  const { [idField]: _ignored, ...rest } = toPlainJson(value);
  return { [idField]: name, ...rest };
}

export function idFieldOf(loc: EntryLocation): string {
  return loc.idField ?? 'name';
}

/** Entries of a container value (already type-checked), by name. */
export function entriesOf(container: unknown, loc: EntryLocation): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (loc.shape === 'map') {
    if (isPlainObject(container)) for (const [k, v] of Object.entries(container)) out.set(k, v);
  } else if (Array.isArray(container)) {
    const id = idFieldOf(loc);
    for (const item of container) {
      const name = isPlainObject(item) ? item[id] : undefined;
      if (typeof name === 'string' && !out.has(name)) out.set(name, item);
    }
  }
  return out;
}

/** Index of the first array item whose id field is `name`, or -1. */
export function indexOfItem(items: readonly unknown[], idField: string, name: string): number {
  return items.findIndex((item) => isPlainObject(item) && item[idField] === name);
}

/** The container at loc.path inside a freshly parsed whole document, or undefined when absent. */
export function containerIn(whole: PlainObject, path: readonly string[]): unknown {
  let cur: unknown = whole;
  for (const key of path) {
    if (!isPlainObject(cur) || !Object.hasOwn(cur, key)) return undefined;
    cur = cur[key];
  }
  return cur;
}

/**
 * Applies a set (value defined) or a remove (value undefined) to a freshly parsed whole document, in
 * place, creating missing containers. This is the model every text edit is verified against.
 * Returns false when removing an absent entry.
 */
export function applyToModel(whole: PlainObject, loc: EntryLocation, name: string, value: PlainObject | undefined): boolean {
  let parent: PlainObject = whole;
  for (const [i, key] of loc.path.entries()) {
    const last = i === loc.path.length - 1;
    if (!Object.hasOwn(parent, key) || parent[key] === null || parent[key] === undefined) {
      if (value === undefined) return false;
      parent[key] = last && loc.shape === 'array' ? [] : {};
    }
    const next = parent[key];
    if (last) {
      if (loc.shape === 'map') {
        if (!isPlainObject(next)) return false;
        if (value === undefined) {
          if (!Object.hasOwn(next, name)) return false;
          delete next[name];
        } else next[name] = toPlainJson(value);
      } else {
        if (!Array.isArray(next)) return false;
        const id = idFieldOf(loc);
        const at = indexOfItem(next, id, name);
        if (value === undefined) {
          if (at < 0) return false;
          next.splice(at, 1);
        } else if (at < 0) next.push(arrayItem(id, name, value));
        else next[at] = arrayItem(id, name, value);
      }
      return true;
    }
    if (!isPlainObject(next)) return false;
    parent = next;
  }
  return false;
}

/**
 * Deep equality of parsed data. Not util.isDeepStrictEqual: jsonc-parser builds its objects without a
 * prototype, and that must not count as a difference.
 */
export function sameData(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && a.constructor === b.constructor && a.toISOString() === b.toISOString();
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameData(x, b[i]));
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && sameData((a as PlainObject)[k], (b as PlainObject)[k]));
}

/** A key as a human reads it in an error message: "mcp" > "servers". */
export function describePath(path: readonly string[]): string {
  return path.map((k) => JSON.stringify(k)).join(' > ');
}

/** What the user calls an object and an array in this format, with their article ("an object", "a table"). */
export interface KindNames {
  syntax: string;
  object: string;
  array: string;
}

function kindOf(v: unknown, names: KindNames): string {
  if (v === null || v === undefined) return 'empty';
  if (Array.isArray(v)) return names.array;
  if (v instanceof Date) return 'a date';
  if (typeof v === 'object') return names.object;
  if (typeof v === 'bigint') return 'a number';
  return `a ${typeof v}`;
}

/** A way to produce the edited text; undefined when it does not apply. Tried in order, verified by re-parsing. */
export type Candidate = () => string | undefined;

/**
 * The shared engine of the three formats: the text is edited by a format-specific strategy, and every
 * result is parsed again and compared with the model (the parsed original with the one change applied),
 * so an edit either does exactly what was asked or is refused. A UTF-8 byte order mark is kept aside.
 */
export abstract class TextConfigDocument implements ConfigDocument {
  protected current: string;
  private readonly bom: string;
  private dirty = false;

  constructor(
    private readonly original: string | undefined,
    protected readonly loc: EntryLocation,
    protected readonly file: string,
    protected readonly names: KindNames,
  ) {
    const raw = original ?? '';
    this.bom = raw.startsWith('\uFEFF') ? '\uFEFF' : '';
    const body = raw.slice(this.bom.length);
    // Blank = a new file: the first set writes the minimal document around the entry.
    this.current = body.trim() === '' ? '' : body;
    this.model(this.current); // validates now: syntax errors and wrong types surface at parseConfig
  }

  /** Parses the text into plain data; throws MalformedConfigError for a syntax error. Blank text is an empty document. */
  protected abstract parse(text: string): unknown;
  /** Ways to turn the current text into one with the change made, best first. */
  protected abstract candidates(name: string, value: PlainObject | undefined): Candidate[];

  /** The whole document as data, after checking that the root and the containers along loc.path have the right types. */
  protected model(text: string): PlainObject {
    const root = this.parse(text) ?? {};
    if (!isPlainObject(root)) throw new MalformedConfigError(this.file, `the top level is ${kindOf(root, this.names)}, expected ${this.names.object}`);
    let cur: unknown = root;
    for (const [i, key] of this.loc.path.entries()) {
      if (!isPlainObject(cur) || !Object.hasOwn(cur, key)) break;
      cur = cur[key];
      if (cur === null) break; // an empty value counts as an empty container
      const last = i === this.loc.path.length - 1;
      const wantArray = last && this.loc.shape === 'array';
      if (wantArray ? !Array.isArray(cur) : !isPlainObject(cur)) {
        const want = wantArray ? this.names.array : this.names.object;
        throw new MalformedConfigError(this.file, `${describePath(this.loc.path.slice(0, i + 1))} is ${kindOf(cur, this.names)}, expected ${want}`);
      }
    }
    return root;
  }

  entries(): Map<string, unknown> {
    return entriesOf(containerIn(this.model(this.current), this.loc.path), this.loc);
  }

  set(name: string, value: Record<string, unknown>): void {
    this.apply(name, value);
  }

  remove(name: string): boolean {
    return this.apply(name, undefined);
  }

  text(): string {
    return this.dirty ? this.bom + this.current : (this.original ?? '');
  }

  private apply(name: string, value: PlainObject | undefined): boolean {
    const before = this.model(this.current);
    const expected = this.model(this.current); // a second, independent copy to change
    if (!applyToModel(expected, this.loc, name, value)) return false;
    if (sameData(before, expected)) return true; // already so: keep the text as it is
    for (const candidate of this.candidates(name, value)) {
      let text: string | undefined;
      try {
        text = candidate();
        if (text !== undefined && sameData(this.model(text), expected)) {
          this.current = text;
          this.dirty = true;
          return true;
        }
      } catch {
        // this way did not work: try the next one
      }
    }
    throw new ConfigEditError(this.file, `the ${this.names.syntax} edit ${value === undefined ? 'removing' : 'writing'} entry ${JSON.stringify(name)} did not give the intended document`);
  }
}
