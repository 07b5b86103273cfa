import { foldService, HighlightStyle, LanguageSupport, StreamLanguage, syntaxHighlighting, type StringStream } from '@codemirror/language';
import { tags as t } from '@lezer/highlight';

/**
 * Cedar for CodeMirror, from Cedar's grammar (no CodeMirror grammar for Cedar is published): effects,
 * scope variables, operators and keywords, entity references (`Tool::"weather"`), `@annotations`,
 * strings with escapes, numbers and `//` comments. A stream tokenizer is enough for Cedar's flat
 * token structure; brackets are matched by text, and folding follows `{}`/`()`/`[]` across lines.
 */

const EFFECTS = new Set(['permit', 'forbid']);
const CONDITIONS = new Set(['when', 'unless']);
const VARIABLES = new Set(['principal', 'action', 'resource', 'context']);
const KEYWORDS = new Set(['in', 'has', 'like', 'is', 'if', 'then', 'else']);
const ATOMS = new Set(['true', 'false']);
/** Extension functions and methods: `ip("10.0.0.1")`, `.contains(...)`, `decimal(...)`. */
const FUNCTIONS = new Set(['ip', 'decimal', 'datetime', 'duration', 'contains', 'containsAll', 'containsAny', 'isEmpty', 'getTag', 'hasTag', 'isIpv4', 'isIpv6', 'isLoopback', 'isMulticast', 'isInRange', 'lessThan', 'lessThanOrEqual', 'greaterThan', 'greaterThanOrEqual', 'offset', 'durationSince', 'toDate', 'toTime', 'toDays', 'toHours', 'toMinutes', 'toSeconds', 'toMilliseconds']);

interface CedarState {
  /** After a `.`: the next identifier is an attribute or method name. */
  afterDot: boolean;
}

function token(stream: StringStream, state: CedarState): string | null {
  if (stream.eatSpace()) return null;
  if (stream.match('//')) {
    stream.skipToEnd();
    return 'comment';
  }
  if (stream.peek() === '"') {
    stream.next();
    let escaped = false;
    for (let ch = stream.next(); ch !== undefined && ch !== null; ch = stream.next()) {
      if (ch === '"' && !escaped) break;
      escaped = !escaped && ch === '\\';
    }
    state.afterDot = false;
    return 'string';
  }
  if (stream.match(/^@[A-Za-z_][A-Za-z0-9_]*/)) return 'meta';
  if (stream.match(/^-?\d+/)) {
    state.afterDot = false;
    return 'number';
  }
  const word = stream.match(/^[A-Za-z_][A-Za-z0-9_]*/) as RegExpMatchArray | null;
  if (word) {
    const w = word[0];
    const wasAfterDot = state.afterDot;
    state.afterDot = false;
    // `Tool::"weather"`, `ToolHive::Action::"x"`: the path is a type name.
    if (stream.match('::', false)) return 'typeName';
    if (wasAfterDot) return FUNCTIONS.has(w) && stream.match(/^\s*\(/, false) ? 'function' : 'propertyName';
    if (EFFECTS.has(w)) return 'effect';
    if (CONDITIONS.has(w)) return 'condition';
    if (VARIABLES.has(w)) return 'variable';
    if (KEYWORDS.has(w)) return 'keyword';
    if (ATOMS.has(w)) return 'atom';
    if (FUNCTIONS.has(w) && stream.match(/^\s*\(/, false)) return 'function';
    return 'name';
  }
  if (stream.match('::')) return 'punctuation';
  if (stream.eat('.')) {
    state.afterDot = true;
    return 'punctuation';
  }
  if (stream.match(/^(==|!=|<=|>=|&&|\|\||[<>!+\-*])/)) return 'operator';
  if (stream.match(/^[{}()[\]]/)) return 'bracket';
  if (stream.match(/^[;,]/)) return 'punctuation';
  stream.next();
  return 'invalid';
}

export const cedarStreamLanguage = StreamLanguage.define<CedarState>({
  name: 'cedar',
  startState: () => ({ afterDot: false }),
  token,
  tokenTable: {
    effect: t.definitionKeyword,
    condition: t.controlKeyword,
    variable: t.special(t.variableName),
    keyword: t.operatorKeyword,
    atom: t.bool,
    typeName: t.typeName,
    propertyName: t.propertyName,
    function: t.function(t.variableName),
    name: t.variableName,
    meta: t.meta,
    operator: t.operator,
    bracket: t.bracket,
    punctuation: t.punctuation,
    invalid: t.invalid,
  },
  languageData: { commentTokens: { line: '//' }, closeBrackets: { brackets: ['(', '[', '{', '"'] } },
});

/** Brackets outside strings and comments, in order, with their offsets in `text`. */
function brackets(text: string): { ch: string; at: number }[] {
  const out: { ch: string; at: number }[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if ('{([)]}'.includes(c)) out.push({ ch: c, at: i });
  }
  return out;
}

/**
 * Folds from the first bracket a line leaves open to its partner on a later line, so `when { ... }`
 * and a long `permit( ... )` fold.
 */
const cedarFolding = foldService.of((state, lineStart, lineEnd) => {
  const text = state.doc.sliceString(lineStart, Math.min(state.doc.length, lineStart + 50_000));
  const lineLength = lineEnd - lineStart;
  const stack: number[] = [];
  for (const b of brackets(text)) {
    if ('{(['.includes(b.ch)) {
      if (b.at >= lineLength && stack.length === 0) return null;
      stack.push(b.at);
    } else {
      const opened = stack.pop();
      if (opened === undefined) {
        if (b.at >= lineLength) return null;
        continue;
      }
      // The outermost bracket left open by this line has closed below it.
      if (stack.length === 0 && b.at >= lineLength) return opened < lineLength ? { from: lineStart + opened + 1, to: lineStart + b.at } : null;
    }
  }
  return null;
});

/** Classes, not colours: styles.css gives each a colour that passes WCAG AA in the light and the dark theme. */
const cedarHighlight = HighlightStyle.define([
  { tag: t.definitionKeyword, class: 'cedar-effect' },
  { tag: [t.controlKeyword, t.operatorKeyword], class: 'cedar-keyword' },
  { tag: t.special(t.variableName), class: 'cedar-variable' },
  { tag: t.typeName, class: 'cedar-type' },
  { tag: t.string, class: 'cedar-string' },
  { tag: [t.number, t.bool], class: 'cedar-literal' },
  { tag: t.comment, class: 'cedar-comment' },
  { tag: t.meta, class: 'cedar-annotation' },
  { tag: [t.propertyName, t.function(t.variableName)], class: 'cedar-attribute' },
  { tag: t.invalid, class: 'cedar-invalid' },
]);

export function cedar(): LanguageSupport {
  return new LanguageSupport(cedarStreamLanguage, [cedarFolding, syntaxHighlighting(cedarHighlight)]);
}
