import { visit, type ParseErrorCode } from 'jsonc-parser';

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

function checkString(s: string, path: string): void {
  if (!s.isWellFormed()) throw new StrictJsonError('lone-surrogate', `the string at ${path || 'the top level'} holds an unpaired UTF-16 surrogate`);
}

function checkValue(value: unknown, depth: number, path: string): void {
  if (typeof value === 'string') return checkString(value, path);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new StrictJsonError('number-range', `the number at ${path || 'the top level'} is too large to be represented exactly`);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  if (depth >= MAX_JSON_DEPTH) throw new StrictJsonError('too-deep', `the message nests deeper than ${MAX_JSON_DEPTH} levels`);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) checkValue(value[i], depth + 1, `${path}[${i}]`);
    return;
  }
  const names = Object.keys(value);
  if (names.length === 1) checkString(names[0]!, path);
  else if (names.length > 1) {
    const folded = new Map<string, string>();
    for (const name of names) {
      checkString(name, path);
      const f = foldName(name);
      const other = folded.get(f);
      if (other !== undefined) {
        throw new StrictJsonError('folded-name', `${describe(path)} has the member names ${JSON.stringify(other)} and ${JSON.stringify(name)}, which case-insensitive readers take for one`);
      }
      folded.set(f, name);
    }
  }
  for (const name of names) checkValue((value as Record<string, unknown>)[name], depth + 1, `${path}.${name}`);
}

function describe(path: string): string {
  return path === '' ? 'the message' : `the object at ${path.slice(1)}`;
}

/**
 * Exact duplicates are gone from JSON.parse's value (the last one wins), so they are found in the text,
 * by jsonc-parser's scanner (strict mode). It only ever refuses: the value that is used is JSON.parse's.
 */
function findDuplicateName(text: string): string | undefined {
  const open: Set<string>[] = [];
  let duplicate: string | undefined;
  let failed: ParseErrorCode | undefined;
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
      onError: (code) => {
        failed ??= code;
      },
    },
    { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false },
  );
  // JSON.parse accepted the text; a scanner that disagrees is not trusted to have seen every name.
  if (failed !== undefined) throw new StrictJsonError('syntax', 'the message could not be checked for duplicate member names');
  return duplicate;
}

/** Parses JSON text strictly (see the module comment); throws StrictJsonError. */
export function parseStrictJson(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new StrictJsonError('syntax', 'the body is not valid JSON');
  }
  checkValue(value, 0, '');
  if (typeof value === 'object' && value !== null) {
    const duplicate = findDuplicateName(text);
    if (duplicate !== undefined) throw new StrictJsonError('duplicate-name', `the member name ${JSON.stringify(duplicate)} appears twice in one object`);
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
