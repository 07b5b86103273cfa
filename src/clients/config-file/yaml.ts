import { isMap, isScalar, isSeq, parseDocument, stringify } from 'yaml';
import type { Pair, YAMLMap, YAMLSeq } from 'yaml';
import { MalformedConfigError } from './errors.js';
import {
  TextConfigDocument,
  applyToModel,
  arrayItem,
  containerIn,
  detectEol,
  idFieldOf,
  lineEndAfter,
  lineStart,
  toPlainJson,
  type Candidate,
  type EntryLocation,
  type PlainObject,
} from './types.js';

/*
 * YAML is edited line by line, using the ranges of the nodes the `yaml` package parses: an entry of a block
 * collection is the run of lines from its key (or its `- `) to the end of its value. The Document API's
 * toString() is never used on the file: it would normalise indentation, spacing and comments everywhere.
 * Only a container written in flow style (`extensions: {}`, `mcpServers: [{...}]`) is rewritten as a whole,
 * in block style.
 */

interface Style {
  eol: string;
  /** Spaces per nesting level. */
  step: number;
  /** `key:\n  - item` (true) or `key:\n- item` (false). */
  indentSeq: boolean;
}

function detectStyle(text: string): Style {
  let step: number | undefined;
  for (const m of text.matchAll(/^( +)[^\s#]/gm)) {
    const n = m[1]?.length ?? 0;
    if (step === undefined || n < step) step = n;
  }
  const flushSeq = /^( *)[^\s#-][^\n]*:[ \t]*(#[^\n]*)?\r?\n\1- /m.test(text);
  const indentedSeq = /^( *)[^\s#-][^\n]*:[ \t]*(#[^\n]*)?\r?\n\1 +- /m.test(text);
  return { eol: detectEol(text), step: step ?? 2, indentSeq: indentedSeq || !flushSeq };
}

/** Block YAML for `value`, every line indented by `column` spaces, ending with a line break. */
function render(value: unknown, column: number, style: Style): string {
  const yaml = stringify(value, { indent: style.step, indentSeq: style.indentSeq, lineWidth: 0, minContentWidth: 0 });
  const pad = ' '.repeat(column);
  return yaml
    .replace(/\n$/, '')
    .split('\n')
    .map((line) => (line === '' ? line : pad + line))
    .join(style.eol) + style.eol;
}

interface Edit {
  start: number;
  end: number;
  content: string;
}

function apply(text: string, edits: Edit[]): string {
  let out = text;
  for (const e of [...edits].sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.content + out.slice(e.end);
  return out;
}

function columnOf(text: string, pos: number): number {
  return pos - lineStart(text, pos);
}

function findPair(map: YAMLMap, key: string): Pair | undefined {
  return map.items.find((p) => isScalar(p.key) && p.key.value === key);
}

type Range = [number, number, number];

function rangeOf(node: unknown): Range | undefined {
  const r = (node as { range?: unknown } | null)?.range;
  return Array.isArray(r) ? (r as Range) : undefined;
}

/** The whole lines of a block map's pair: from its key to the end of its value's last line. */
function pairSpan(text: string, pair: Pair): [number, number] | undefined {
  const key = rangeOf(pair.key);
  const valueEnd = rangeOf(pair.value)?.[1] ?? key?.[1];
  if (!key || valueEnd === undefined) return undefined;
  return [lineStart(text, key[0]), lineEndAfter(text, valueEnd)];
}

/** The whole lines of a block sequence's item: from its `-` to the end of its last line. */
function itemSpan(text: string, item: unknown): [number, number] | undefined {
  const r = rangeOf(item);
  if (!r) return undefined;
  let p = r[0];
  while (p > 0 && ' \t\r\n'.includes(text[p - 1] ?? '')) p--;
  if (text[p - 1] !== '-') return undefined;
  return [lineStart(text, p - 1), lineEndAfter(text, r[1])];
}

/** Where a block collection's items start, as a column: its keys, or its dashes. */
function itemColumn(text: string, coll: YAMLMap | YAMLSeq): number | undefined {
  if (isMap(coll)) {
    const r = rangeOf(coll.items[0]?.key);
    return r && columnOf(text, r[0]);
  }
  const r = rangeOf(coll);
  return r && text[r[0]] === '-' ? columnOf(text, r[0]) : undefined;
}

/** Text inserted after the last line `end` closes: on a new line even when the file does not end with one. */
function appendAt(text: string, end: number, block: string, style: Style): Edit {
  const needsBreak = end === text.length && end > 0 && !text.endsWith('\n');
  return { start: end, end, content: (needsBreak ? style.eol : '') + block };
}

/** Replaces a spanned block of lines, keeping a missing final line break missing. */
function replaceSpan(text: string, span: [number, number], block: string, style: Style): Edit {
  const content = span[1] === text.length && !text.endsWith('\n') ? block.slice(0, -style.eol.length) : block;
  return { start: span[0], end: span[1], content };
}

function isEmptyValue(node: unknown): boolean {
  return node === null || node === undefined || (isScalar(node) && node.value === null);
}

/** Offset just after the `:` that follows a pair's key. */
function colonAfter(text: string, pair: Pair): number | undefined {
  const key = rangeOf(pair.key);
  if (!key) return undefined;
  const colon = text.indexOf(':', key[1]);
  return colon < 0 ? undefined : colon + 1;
}

/**
 * Rewrites the value of `pair` (an empty value or a flow collection) with `value`: ` {}`/` []` when empty,
 * otherwise a block on the following lines, indented one step from the key. (A flow collection holding other
 * entries is rewritten in block style: same data, different layout.)
 */
function replaceValue(text: string, pair: Pair, value: unknown, style: Style): Edit | undefined {
  const colon = colonAfter(text, pair);
  const key = rangeOf(pair.key);
  if (colon === undefined || !key) return undefined;
  const r = rangeOf(pair.value);
  const end = r && r[1] > r[0] ? r[1] : colon;
  if (Array.isArray(value) && value.length === 0) return { start: colon, end, content: ' []' };
  if (typeof value === 'object' && value !== null && Object.keys(value).length === 0) return { start: colon, end, content: ' {}' };
  const block = render(value, columnOf(text, key[0]) + style.step, style);
  // A comment after the old value stays on the key's line (`extensions:  # note`), where ` {}` will come back.
  const rest = /^[^\r\n]*/.exec(text.slice(end))?.[0] ?? '';
  const comment = rest.trim().startsWith('#') ? rest : '';
  const stop = rest.trim() === '' || comment ? end + rest.length : end;
  return { start: colon, end: stop, content: comment + style.eol + block.slice(0, -style.eol.length) };
}

class YamlDocument extends TextConfigDocument {
  constructor(text: string | undefined, loc: EntryLocation, file: string) {
    super(text, loc, file, { syntax: 'YAML', object: 'a map', array: 'a list' });
  }

  protected parse(text: string): unknown {
    const doc = parseDocument(text);
    const err = doc.errors[0];
    if (err) {
      const pos = err.linePos?.[0];
      const detail = err.message.split(' at line ')[0] ?? err.message;
      throw new MalformedConfigError(this.file, detail, pos ? { syntax: 'YAML', line: pos.line, column: pos.col } : { syntax: 'YAML' });
    }
    return doc.toJS() as unknown;
  }

  protected candidates(name: string, value: PlainObject | undefined): Candidate[] {
    return [() => this.edit(name, value)];
  }

  private edit(name: string, value: PlainObject | undefined): string | undefined {
    const text = this.current;
    const style = detectStyle(text);
    const { path } = this.loc;
    const expected = this.model(text);
    applyToModel(expected, this.loc, name, value);
    const expectedAt = (depth: number): unknown => (depth === 0 ? expected : containerIn(expected, path.slice(0, depth)));
    const doc = parseDocument(text);
    const root = doc.contents;
    if (isEmptyValue(root)) return apply(text, [appendAt(text, text.length, render(expected, 0, style), style)]);
    if (!isMap(root)) return undefined;
    if (root.flow) {
      // `{}` (or a whole document in flow style): rewritten as a block, same data.
      const r = rangeOf(root);
      return r && apply(text, [{ start: r[0], end: r[1], content: render(expected, 0, style).slice(0, -style.eol.length) }]);
    }

    // Walk down to the container, writing whatever is missing in one go.
    let coll: YAMLMap = root;
    let holder: Pair | undefined;
    for (const [i, key] of path.entries()) {
      if (coll.items.length === 0 || coll.flow) {
        return holder && applyOne(text, replaceValue(text, holder, expectedAt(i), style));
      }
      const pair = findPair(coll, key);
      if (!pair) {
        const last = coll.items.at(-1);
        const span = last && pairSpan(text, last);
        const column = itemColumn(text, coll);
        if (!span || column === undefined) return undefined;
        return apply(text, [appendAt(text, span[1], render({ [key]: expectedAt(i + 1) }, column, style), style)]);
      }
      const v: unknown = pair.value;
      if (isEmptyValue(v) || ((isMap(v) || isSeq(v)) && (v.flow || v.items.length === 0))) {
        return applyOne(text, replaceValue(text, pair, expectedAt(i + 1), style));
      }
      if (i < path.length - 1) {
        if (!isMap(v)) return undefined;
        coll = v;
        holder = pair;
        continue;
      }
      // The container, in block style with at least one item.
      if (!isMap(v) && !isSeq(v)) return undefined;
      return this.editBlock(text, style, pair, v, name, value);
    }
    return undefined;
  }

  private editBlock(text: string, style: Style, holder: Pair, coll: YAMLMap | YAMLSeq, name: string, value: PlainObject | undefined): string | undefined {
    const column = itemColumn(text, coll);
    if (column === undefined) return undefined;
    const id = idFieldOf(this.loc);
    const spanOf = (node: unknown): [number, number] | undefined => (isMap(coll) ? pairSpan(text, node as Pair) : itemSpan(text, node));
    const existing: unknown = isMap(coll) ? findPair(coll, name) : coll.items.find((it) => isMap(it) && it.get(id) === name);
    const span = existing === undefined ? undefined : spanOf(existing);
    if (existing !== undefined && !span) return undefined;

    if (value === undefined) {
      if (!span) return text;
      const edits: Edit[] = [{ start: span[0], end: span[1], content: '' }];
      if (coll.items.length === 1) {
        // The last entry goes: the container stays, empty, as `key: {}` / `key: []`.
        const colon = colonAfter(text, holder);
        if (colon === undefined) return undefined;
        edits.push({ start: colon, end: colon, content: isMap(coll) ? ' {}' : ' []' });
      }
      return apply(text, edits);
    }
    const block = isMap(coll) ? render({ [name]: toPlainJson(value) }, column, style) : render([arrayItem(id, name, value)], column, style);
    if (span) return apply(text, [replaceSpan(text, span, block, style)]);
    const lastSpan = spanOf(coll.items.at(-1));
    return lastSpan && apply(text, [appendAt(text, lastSpan[1], block, style)]);
  }
}

function applyOne(text: string, edit: Edit | undefined): string | undefined {
  return edit && apply(text, [edit]);
}

export function parseYaml(text: string | undefined, loc: EntryLocation, file: string): YamlDocument {
  return new YamlDocument(text, loc, file);
}
