import { visit } from 'jsonc-parser';

/**
 * JSON as the proxy reads every MCP message: RFC 8259 (JSON.parse: the one reader whose value every
 * layer sees and whose serialization is forwarded), and nothing another reader could read differently.
 *
 * Refused, because a server or client decoding like Go's encoding/json (case-insensitive member names,
 * last match wins; CVE-2026-27896) or like a lenient JS parser (first or last duplicate) would act on
 * another message than the one that was authorized:
 * - two member names of one object that are equal, or equal after Unicode case folding
 *   (`name`/`Name`, `params`/`paramſ`, `k`/`K` with a Kelvin sign), at any depth;
 * - numbers that do not fit a double (`1e400` reads as Infinity and would be forwarded as `null`);
 * - strings with a lone UTF-16 surrogate (`"\ud800"`: Go reads U+FFFD, JavaScript keeps the half);
 * - nesting deeper than MAX_JSON_DEPTH (a bound for every recursive reader after this one).
 */
export const MAX_JSON_DEPTH = 64;

declare global {
  interface String {
    /** ES2024, in Node since 20 (the project's lib is ES2023). */
    isWellFormed(): boolean;
  }
}

export type StrictJsonProblem = 'syntax' | 'duplicate-name' | 'folded-name' | 'number-range' | 'lone-surrogate' | 'too-deep';

export class StrictJsonError extends Error {
  constructor(
    readonly problem: StrictJsonProblem,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The case folding Go's encoding/json (bytes.EqualFold, Unicode simple folding) applies to member names,
 * or more: upper-casing then lower-casing maps every member of a simple-fold orbit (s, S, ſ; k, K, K;
 * σ, ς, Σ; µ, μ, Μ; ...) onto one string. Equating a few more names than Go does only refuses more.
 */
export function foldName(name: string): string {
  for (let i = 0; i < name.length; i++) {
    if (name.charCodeAt(i) > 0x7f) return name.toUpperCase().toLowerCase();
  }
  return name.toLowerCase();
}

type PathStep = string | number;

function where(path: readonly PathStep[]): string {
  let text = '';
  for (const step of path) text += typeof step === 'number' ? `[${step}]` : `.${step}`;
  return text === '' ? 'the top level' : text.slice(1);
}

/**
 * Checks a parsed value (see the module comment) and returns how many object members it holds, which
 * findDuplicateName compares with the text. `path` is a stack, turned into words only for an error.
 */
function checkValue(value: unknown, path: PathStep[]): number {
  if (typeof value === 'string') {
    if (!value.isWellFormed()) throw loneSurrogate(path);
    return 0;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new StrictJsonError('number-range', `the number at ${where(path)} is too large to be represented exactly`);
    return 0;
  }
  if (typeof value !== 'object' || value === null) return 0;
  if (path.length >= MAX_JSON_DEPTH) throw new StrictJsonError('too-deep', `the message nests deeper than ${MAX_JSON_DEPTH} levels`);
  let members = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      members += checkValue(value[i], path);
      path.pop();
    }
    return members;
  }
  const names = Object.keys(value);
  if (names.length === 1) {
    if (!names[0]!.isWellFormed()) throw loneSurrogate(path);
  } else if (names.length > 1) {
    const folded = new Map<string, string>();
    for (const name of names) {
      if (!name.isWellFormed()) throw loneSurrogate(path);
      const f = foldName(name);
      const other = folded.get(f);
      if (other !== undefined) {
        throw new StrictJsonError('folded-name', `${describe(path)} has the member names ${JSON.stringify(other)} and ${JSON.stringify(name)}, which case-insensitive readers take for one`);
      }
      folded.set(f, name);
    }
  }
  members += names.length;
  for (const name of names) {
    path.push(name);
    members += checkValue((value as Record<string, unknown>)[name], path);
    path.pop();
  }
  return members;
}

function loneSurrogate(path: readonly PathStep[]): StrictJsonError {
  return new StrictJsonError('lone-surrogate', `the string at ${where(path)} holds an unpaired UTF-16 surrogate`);
}

function describe(path: readonly PathStep[]): string {
  return path.length === 0 ? 'the message' : `the object at ${where(path)}`;
}

/**
 * Object members written in JSON text that JSON.parse accepted: outside strings, a colon is only ever a
 * name separator. Strings are skipped with indexOf, so the cost is in the structure, not the payload.
 */
function countMembersInText(text: string): number {
  let members = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3a) members++;
    else if (c === 0x22) {
      let end = text.indexOf('"', i + 1);
      for (;;) {
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes++;
        if (backslashes % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      i = end;
    }
  }
  return members;
}

/**
 * Exact duplicates are gone from JSON.parse's value (the last one wins), so the text holds more members
 * than the value. Only then is the text read again, by jsonc-parser's scanner (strict mode), to name the
 * duplicate. It only ever refuses: the value that is used is JSON.parse's.
 */
function findDuplicateName(text: string): string {
  const open: Set<string>[] = [];
  let duplicate: string | undefined;
  visit(
    text,
    {
      onObjectBegin: () => {
        open.push(new Set());
      },
      onObjectProperty: (name) => {
        const names = open[open.length - 1];
        if (!names || duplicate !== undefined) return;
        if (names.has(name)) duplicate = name;
        names.add(name);
      },
      onObjectEnd: () => {
        open.pop();
      },
    },
    { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false },
  );
  return duplicate ?? '(unnamed)';
}

/** Parses JSON text strictly (see the module comment); throws StrictJsonError. */
export function parseStrictJson(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new StrictJsonError('syntax', 'the body is not valid JSON');
  }
  const members = checkValue(value, []);
  if (typeof value === 'object' && value !== null && countMembersInText(text) !== members) {
    throw new StrictJsonError('duplicate-name', `the member name ${JSON.stringify(findDuplicateName(text))} appears twice in one object`);
  }
  return value;
}

/** Bytes as UTF-8, refusing anything else: invalid sequences, and a byte order mark (JSON text has none). */
export function decodeUtf8Strict(bytes: Uint8Array): string {
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    throw new StrictJsonError('syntax', 'the body starts with a byte order mark; send plain UTF-8 JSON');
  }
  try {
    return utf8.decode(bytes);
  } catch {
    throw new StrictJsonError('syntax', 'the body is not valid UTF-8');
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
