import { applyEdits, createScanner, findNodeAtLocation, getNodeValue, modify, parseTree, printParseErrorCode } from 'jsonc-parser';
import type { EditResult, FormattingOptions, Node as JsonNode, ParseError } from 'jsonc-parser';
import { MalformedConfigError } from './errors.js';
import {
  TextConfigDocument,
  arrayItem,
  containerIn,
  detectEol,
  idFieldOf,
  indexOfItem,
  lineEndAfter,
  lineStart,
  toPlainJson,
  type Candidate,
  type EntryLocation,
  type PlainObject,
} from './types.js';

/*
 * JSON with comments and trailing commas, edited through jsonc-parser's syntax tree (offsets) and scanner.
 * jsonc-parser's `modify` with formatting options re-formats every line its edit touches: adding an entry after
 * `"b": {"url": "y"}   // about b` rewrites b over several lines and moves its comment onto the new entry. So
 * the edits are made here: a new member on lines of its own after the last one (adding the comma the previous
 * member needs, or following the file's trailing-comma style), a replaced value in place, a removed member's
 * whole lines. `modify` is kept as a fallback for layouts these do not cover (the result is verified anyway).
 */

// jsonc-parser's SyntaxKind is a `const enum`, which isolated-module compilation cannot read: its values, as numbers.
const TOKEN = { comma: 5, lineComment: 12, blockComment: 13, lineBreak: 14, trivia: 15, eof: 17 } as const;

const PARSE_OPTIONS = { allowTrailingComma: true, disallowComments: false, allowEmptyContent: true };

const ERROR_WORDS: Record<string, string> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'invalid number',
  PropertyNameExpected: 'expected a property name in double quotes',
  ValueExpected: 'expected a value',
  ColonExpected: 'expected a colon',
  CommaExpected: 'expected a comma',
  CloseBraceExpected: 'expected a closing brace }',
  CloseBracketExpected: 'expected a closing bracket ]',
  EndOfFileExpected: 'unexpected text after the end of the document',
  InvalidCommentToken: 'invalid comment',
  UnexpectedEndOfComment: 'unterminated comment',
  UnexpectedEndOfString: 'unterminated string',
  UnexpectedEndOfNumber: 'unterminated number',
  InvalidUnicode: 'invalid unicode escape',
  InvalidEscapeCharacter: 'invalid escape character',
  InvalidCharacter: 'invalid character in a string',
};

interface Style {
  eol: string;
  /** One level of indentation: a tab or N spaces. */
  unit: string;
}

/** The file's own indentation: a tab, or the smallest indentation of a line that starts with JSON (not a comment). */
function detectStyle(text: string): Style {
  let unit: string | undefined;
  for (const m of text.matchAll(/^([ \t]+)["{}[\]\w-]/gm)) {
    const ws = m[1] ?? '';
    if (ws.startsWith('\t')) return { eol: detectEol(text), unit: '\t' };
    if (unit === undefined || ws.length < unit.length) unit = ws;
  }
  return { eol: detectEol(text), unit: unit ?? '  ' };
}

/** The leading whitespace of the line holding `pos`. */
function indentAt(text: string, pos: number): string {
  const start = lineStart(text, pos);
  return /^[ \t]*/.exec(text.slice(start, pos))?.[0] ?? '';
}

/** `value` pretty-printed in the file's style, continuation lines indented from `indent`. */
function render(value: unknown, indent: string, style: Style): string {
  return JSON.stringify(value, null, style.unit).split('\n').join(style.eol + indent);
}

type Edit = EditResult[number];

/** Offset of the first comma after `pos`, skipping whitespace and comments; undefined when another token comes first. */
function commaAfter(text: string, pos: number): number | undefined {
  const scanner = createScanner(text, true); // true: skip whitespace and comments
  scanner.setPosition(pos);
  return (scanner.scan() as number) === TOKEN.comma ? scanner.getTokenOffset() : undefined;
}

/**
 * The end of the line that `node` (and its comma, and a comment) finish, when nothing else follows on that
 * line; undefined when the node shares its line with more JSON (compact layout) or a block comment runs on.
 * `lineBreakEnd` is just past the line break, `eolAt` where the line break starts.
 */
function ownLineEnd(text: string, node: JsonNode): { comma: boolean; eolAt: number; lineBreakEnd: number } | undefined {
  const scanner = createScanner(text, false);
  scanner.setPosition(node.offset + node.length);
  let comma = false;
  for (;;) {
    const token = scanner.scan() as number;
    if (token === TOKEN.trivia || token === TOKEN.lineComment) continue;
    if (token === TOKEN.comma && !comma) comma = true;
    else if (token === TOKEN.blockComment && !scanner.getTokenValue().includes('\n')) continue;
    else if (token === TOKEN.lineBreak) return { comma, eolAt: scanner.getTokenOffset(), lineBreakEnd: scanner.getPosition() };
    else if (token === TOKEN.eof) return { comma, eolAt: text.length, lineBreakEnd: text.length };
    else return undefined;
  }
}

/** Edits inserting a member (`key` given: a property of an object; otherwise an array item) at the end of `container`. */
function insertEdits(text: string, container: JsonNode, key: string | undefined, value: unknown, style: Style, compact: boolean): Edit[] | undefined {
  const children = container.children ?? [];
  const last = children.at(-1);
  const close = container.offset + container.length - 1;
  const keyText = key === undefined ? '' : `${JSON.stringify(key)}: `;
  if (!last && compact) return [{ offset: container.offset + 1, length: close - container.offset - 1, content: keyText + JSON.stringify(value) }];
  if (!last) {
    const outer = indentAt(text, container.offset);
    const inner = text.slice(container.offset + 1, close);
    const member = keyText + render(value, outer + style.unit, style);
    if (inner.trim() === '') {
      return [{ offset: container.offset + 1, length: inner.length, content: style.eol + outer + style.unit + member + style.eol + outer }];
    }
    // Only comments inside: the member goes first, on its own line.
    return [{ offset: container.offset + 1, length: 0, content: style.eol + outer + style.unit + member }];
  }
  const lastEnd = last.offset + last.length;
  const end = ownLineEnd(text, last);
  if (!end || end.eolAt > close) {
    // Compact layout ({"a": 1} on one line): stay compact.
    return [{ offset: lastEnd, length: 0, content: `, ${keyText}${JSON.stringify(value)}` }];
  }
  const ownLine = text.slice(lineStart(text, last.offset), last.offset).trim() === '';
  const indent = ownLine ? indentAt(text, last.offset) : indentAt(text, container.offset) + style.unit;
  const edits: Edit[] = [];
  // Without a trailing comma the previous last member needs one; with one, the new member gets one too (same style).
  if (!end.comma) edits.push({ offset: lastEnd, length: 0, content: ',' });
  const member = keyText + render(value, indent, style) + (end.comma ? ',' : '');
  edits.push({ offset: end.eolAt, length: 0, content: style.eol + indent + member });
  return edits;
}

/** Edits removing `member` (a property node, or an array item) from `container`, whole lines when it has its own. */
function removeEdits(text: string, container: JsonNode, member: JsonNode): Edit[] | undefined {
  const children = container.children ?? [];
  const at = children.indexOf(member);
  const previous = at > 0 ? children[at - 1] : undefined;
  const start = lineStart(text, member.offset);
  const end = ownLineEnd(text, member);
  if (!end || text.slice(start, member.offset).trim() !== '') return undefined; // not on its own lines
  const edits: Edit[] = [{ offset: start, length: end.lineBreakEnd - start, content: '' }];
  // It was last without a trailing comma: the member before it now is last, and must lose its comma.
  if (at === children.length - 1 && !end.comma && previous) {
    const comma = commaAfter(text, previous.offset + previous.length);
    if (comma === undefined) return undefined;
    edits.push({ offset: comma, length: 1, content: '' });
  }
  return edits;
}

/** After removing the last member: `{\n  }` becomes `{}` (whitespace only inside; comments are kept). */
function collapseEmpty(text: string, path: readonly string[]): string {
  const root = parseTree(text, [], PARSE_OPTIONS);
  const container = root && findNodeAtLocation(root, [...path]);
  if (!container || (container.children ?? []).length > 0) return text;
  const inner = text.slice(container.offset + 1, container.offset + container.length - 1);
  if (inner === '' || inner.trim() !== '') return text;
  return applyEdits(text, [{ offset: container.offset + 1, length: inner.length, content: '' }]);
}

class JsoncDocument extends TextConfigDocument {
  constructor(text: string | undefined, loc: EntryLocation, file: string) {
    super(text, loc, file, { syntax: 'JSON', object: 'an object', array: 'an array' });
  }

  protected parse(text: string): unknown {
    if (text === '') return undefined;
    const errors: ParseError[] = [];
    const root = parseTree(text, errors, PARSE_OPTIONS);
    const first = errors[0];
    if (first) {
      const code = printParseErrorCode(first.error);
      const before = text.slice(0, first.offset);
      const line = before.split('\n').length;
      const column = first.offset - lineStart(text, first.offset) + 1;
      throw new MalformedConfigError(this.file, ERROR_WORDS[code] ?? code, { syntax: 'JSON', line, column });
    }
    return root ? (getNodeValue(root) as unknown) : undefined;
  }

  protected candidates(name: string, value: PlainObject | undefined): Candidate[] {
    const text = this.current === '' ? '{}\n' : this.current;
    const style = detectStyle(this.current);
    return [() => this.ownEdit(text, style, name, value), () => this.libraryEdit(text, style, name, value)];
  }

  /** Minimal text edits: a new member goes on its own lines after the last one; neighbours are not reformatted. */
  private ownEdit(text: string, style: Style, name: string, value: PlainObject | undefined): string | undefined {
    const root = parseTree(text, [], PARSE_OPTIONS);
    if (!root) return undefined;
    const { path, shape } = this.loc;
    // A document written on one line ({"mcpServers":{...}}) stays on one line.
    const compact = (root.children ?? []).length > 0 && !text.slice(root.offset, root.offset + root.length).includes('\n');
    // The deepest existing object along the path; what is missing below it is written in one go.
    let node = root;
    for (const [i, key] of path.entries()) {
      const child = findNodeAtLocation(node, [key]);
      if (!child || child.type === 'null') {
        if (value === undefined) return text;
        let nested: unknown = shape === 'map' ? { [name]: toPlainJson(value) } : [arrayItem(idFieldOf(this.loc), name, value)];
        for (const k of path.slice(i + 1).reverse()) nested = { [k]: nested };
        const content = compact ? JSON.stringify(nested) : render(nested, indentAt(text, child?.offset ?? 0), style);
        if (child) return applyEdits(text, [{ offset: child.offset, length: child.length, content }]);
        const edits = insertEdits(text, node, key, nested, style, compact);
        return edits && applyEdits(text, edits);
      }
      node = child;
    }
    const container = node;
    let member: JsonNode | undefined; // the property node (map) or the item node (array)
    let target: JsonNode | undefined; // the value to replace
    if (shape === 'map') {
      target = findNodeAtLocation(container, [name]);
      member = target?.parent;
    } else {
      const items = container.children ?? [];
      const at = indexOfItem(items.map((n) => getNodeValue(n) as unknown), idFieldOf(this.loc), name);
      member = target = items[at];
    }
    if (value === undefined) {
      if (!member) return text;
      // Not on lines of its own: jsonc-parser's plain token edit (no formatting) takes it out with its comma.
      const segment = shape === 'map' ? name : (container.children ?? []).indexOf(member);
      const edits = removeEdits(text, container, member) ?? modify(text, [...path, segment], undefined, {});
      return collapseEmpty(applyEdits(text, edits), path);
    }
    const newValue = shape === 'map' ? toPlainJson(value) : arrayItem(idFieldOf(this.loc), name, value);
    if (target) {
      const oneLine = compact || !text.slice(container.offset, container.offset + container.length).includes('\n');
      const content = oneLine ? JSON.stringify(newValue) : render(newValue, indentAt(text, member?.offset ?? target.offset), style);
      return applyEdits(text, [{ offset: target.offset, length: target.length, content }]);
    }
    const edits = insertEdits(text, container, shape === 'map' ? name : undefined, newValue, style, compact);
    return edits && applyEdits(text, edits);
  }

  /** jsonc-parser's own modify, formatted like the file: correct, but may reformat the line of a neighbour. */
  private libraryEdit(text: string, style: Style, name: string, value: PlainObject | undefined): string | undefined {
    const formattingOptions: FormattingOptions = { eol: style.eol, insertSpaces: style.unit !== '\t', tabSize: style.unit === '\t' ? 1 : style.unit.length };
    const { path } = this.loc;
    let segments: (string | number)[] = [...path, name];
    let newValue: unknown = value === undefined ? undefined : toPlainJson(value);
    if (this.loc.shape === 'array') {
      const items = containerIn(this.model(text), path);
      segments = [...path, Array.isArray(items) ? indexOfItem(items, idFieldOf(this.loc), name) : -1]; // -1: append
      if (value !== undefined) newValue = arrayItem(idFieldOf(this.loc), name, value);
    }
    const edited = applyEdits(text, modify(text, segments, newValue, { formattingOptions }));
    return value === undefined ? collapseEmpty(edited, path) : edited;
  }
}

export function parseJsonc(text: string | undefined, loc: EntryLocation, file: string): JsoncDocument {
  return new JsoncDocument(text, loc, file);
}
