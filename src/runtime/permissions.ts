// ToolHive permission profiles (`--permission-profile none|network|<file.json>`) and mount declarations.
// The JSON shape is ToolHive's (toolhive-core/permissions), so a profile written for `thv run` works here.
import { readFile as fsReadFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

// Go's encoding/json accepts `null` for any field and leaves the zero value; mirror that.
const nullable = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === null ? undefined : v), schema.optional());

// z.object strips unknown keys, like Go's decoder ignores fields it does not know.
export const PermissionProfileSchema = z.object({
  name: nullable(z.string()),
  read: nullable(z.array(z.string())),
  write: nullable(z.array(z.string())),
  network: nullable(
    z.object({
      mode: nullable(z.string()),
      outbound: nullable(
        z.object({
          insecure_allow_all: nullable(z.boolean()),
          allow_host: nullable(z.array(z.string())),
          allow_port: nullable(z.array(z.number().int())),
        }),
      ),
      inbound: nullable(z.object({ allow_host: nullable(z.array(z.string())) })),
    }),
  ),
  privileged: nullable(z.boolean()),
});

export type PermissionProfile = z.infer<typeof PermissionProfileSchema>;

export const BUILTIN_PROFILES = {
  none: {
    name: 'none',
    read: [],
    write: [],
    network: { outbound: { insecure_allow_all: false, allow_host: [], allow_port: [] }, inbound: { allow_host: [] } },
    privileged: false,
  },
  network: {
    name: 'network',
    read: [],
    write: [],
    network: { outbound: { insecure_allow_all: true, allow_host: [], allow_port: [] }, inbound: { allow_host: [] } },
    privileged: false,
  },
} as const satisfies Record<string, PermissionProfile>;

export type BuiltinProfileName = keyof typeof BUILTIN_PROFILES;

export interface LoadedProfile {
  source: 'builtin' | 'file';
  name: string;
  profile: PermissionProfile;
}

export type ReadTextFile = (path: string, encoding: 'utf8') => Promise<string>;

export class PermissionProfileError extends Error {
  override name = 'PermissionProfileError';
}

/** Resolves `none`, `network` or a path to a JSON profile; mount declarations are validated here, not at start. */
export async function loadPermissionProfile(
  spec: string,
  readFile: ReadTextFile = fsReadFile,
): Promise<LoadedProfile> {
  const trimmed = spec.trim();
  if (trimmed === '') {
    throw new PermissionProfileError('Permission profile is empty: use "none", "network" or a path to a JSON file.');
  }
  if (trimmed === 'none' || trimmed === 'network') {
    return { source: 'builtin', name: trimmed, profile: structuredClone(BUILTIN_PROFILES[trimmed]) as PermissionProfile };
  }

  const file = path.resolve(trimmed);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new PermissionProfileError(
        `Permission profile file not found: ${file}. Use "none", "network" or a path to an existing JSON file.`,
      );
    }
    if (code === 'EISDIR') throw new PermissionProfileError(`Permission profile ${file} is a directory, not a JSON file.`);
    if (code === 'EACCES' || code === 'EPERM') {
      throw new PermissionProfileError(`Permission profile ${file} cannot be read (permission denied).`);
    }
    throw new PermissionProfileError(`Permission profile ${file} cannot be read: ${(err as Error).message}`);
  }

  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PermissionProfileError(`Permission profile ${file} is not valid JSON: ${describeJsonError(err, text)}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new PermissionProfileError(`Permission profile ${file} must be a JSON object like {"read": [...], "network": {...}}.`);
  }

  const parsed = PermissionProfileSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${formatPath(i.path) || '(root)'}: ${i.message}`);
    throw new PermissionProfileError(`Permission profile ${file} is invalid: ${problems.join('; ')}`);
  }
  const profile = parsed.data;
  validateProfileMounts(profile, file);
  return { source: 'file', name: profile.name || path.basename(file, '.json'), profile };
}

function validateProfileMounts(profile: PermissionProfile, file: string): void {
  for (const [field, mode] of [['read', 'ro'], ['write', 'rw']] as const) {
    (profile[field] ?? []).forEach((entry, i) => {
      try {
        parseMountSpec(entry, mode);
      } catch (err) {
        throw new PermissionProfileError(`Permission profile ${file} is invalid: ${field}[${i}]: ${(err as Error).message}`);
      }
    });
  }
}

function formatPath(p: readonly PropertyKey[]): string {
  return p.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), '');
}

// Node 20's V8 gives no position for some JSON errors ("Unexpected token '}', ... is not valid JSON"),
// but people fix files by line and column, so find the offending offset ourselves when it is missing.
function describeJsonError(err: unknown, text: string): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/line \d+/.test(message)) return message;
  const reported = /position (\d+)/.exec(message);
  const pos = reported ? Number(reported[1]) : jsonErrorOffset(text);
  if (pos === undefined) return message;
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  const where = `line ${line} column ${column} (position ${pos})`;
  if (reported) return `${message.replace(/ in JSON at position \d+.*$/, '')} at ${where}`;
  // V8's own text quotes a multi-line snippet here; a plain description reads better.
  const found = pos < text.length ? `unexpected ${JSON.stringify(text[pos])}` : 'unexpected end of file';
  return `${found} at ${where}`;
}

/** Offset of the first JSON syntax error in `text` (a validating scan, no values built), or undefined if none found. */
export function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const fail = (at: number = i): never => {
    throw at;
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const literal = (word: string) => {
    for (const ch of word) if (text[i++] !== ch) fail(i - 1);
  };
  const string = () => {
    i++; // opening quote
    for (;;) {
      if (i >= text.length) fail();
      const c = text.charCodeAt(i);
      if (c === 0x22) return void i++;
      if (c < 0x20) fail();
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail(i + 1);
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail(i + 1);
      } else i++;
    }
  };
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m || m[0] === '' || m[0] === '-') fail();
    i += (m as RegExpExecArray)[0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else fail();
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else fail();
      }
    } else if (c === '"') string();
    else if (c === 't') literal('true');
    else if (c === 'f') literal('false');
    else if (c === 'n') literal('null');
    else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) number();
    else fail();
  };
  try {
    value();
    ws();
    return i < text.length ? i : undefined;
  } catch (at) {
    if (typeof at === 'number') return Math.min(at, text.length);
    throw at;
  }
}

// ---------------------------------------------------------------------------------------------
// Mount declarations: "/path", "/host:/container", "volume://name:/container" (ToolHive's formats).

export interface MountSpec {
  type: 'bind' | 'volume';
  /** Absolute host path (bind) or volume name (volume). */
  source: string;
  /** Absolute POSIX path inside the container. */
  target: string;
  readOnly: boolean;
}

export class MountSpecError extends Error {
  override name = 'MountSpecError';
}

// ToolHive's command-injection pattern, plus control characters (newlines break Docker's bind syntax).
const SHELL_METACHARACTERS = /[$&;|`]|[\u0000-\u001f]/;
const WINDOWS_DRIVE_PATH = /^[a-zA-Z]:[\\/]/;
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Parses a profile's read/write entry. Host paths must be absolute: a profile has no working directory. */
export function parseMountSpec(entry: string, mode: 'ro' | 'rw'): MountSpec {
  const spec = parseDeclaration(entry);
  if (spec.type === 'bind') {
    if (!isAbsoluteHostPath(spec.source)) {
      throw new MountSpecError(
        `mount "${entry}": host path "${spec.source}" must be absolute (use volume://name:/path for a named volume)`,
      );
    }
    rejectTraversal(entry, spec.source, 'host');
    spec.source = normalizeHostPath(spec.source);
  }
  return { ...spec, readOnly: mode === 'ro' };
}

/** Parses the `-v host:container[:ro|rw]` flag; relative host paths are resolved against `cwd`, as ToolHive allows. */
export function parseVolumeFlag(v: string, cwd: string = process.cwd()): MountSpec {
  let body = v;
  let readOnly = false;
  const suffix = /:(ro|rw)$/.exec(v);
  if (suffix) {
    readOnly = suffix[1] === 'ro';
    body = v.slice(0, -suffix[0].length);
  }
  const relativeHost = body !== '' && !isAbsoluteHostPath(body) && !body.includes('://');
  if (relativeHost) {
    const colon = body.indexOf(':');
    const resolved = path.resolve(cwd, colon === -1 ? body : body.slice(0, colon));
    // A lone relative path means "this directory, at the same place inside".
    body = colon === -1 ? resolved : resolved + body.slice(colon);
  }
  const spec = parseDeclaration(body, v);
  if (spec.type === 'bind') spec.source = normalizeHostPath(spec.source);
  return { ...spec, readOnly };
}

function parseDeclaration(decl: string, shown: string = decl): Omit<MountSpec, 'readOnly'> {
  if (decl === '') throw new MountSpecError('mount declaration is empty');
  if (decl.includes('\0')) throw new MountSpecError(`mount "${printable(shown)}": null byte in path`);
  if (SHELL_METACHARACTERS.test(decl)) {
    throw new MountSpecError(`mount "${printable(shown)}": shell metacharacters ($ & ; | \` or control characters) are not allowed`);
  }

  const uri = /^([a-zA-Z][a-zA-Z0-9_-]*):\/\/(.*)$/.exec(decl);
  if (uri) {
    const [, scheme, rest = ''] = uri;
    if (scheme !== 'volume') {
      throw new MountSpecError(`mount "${shown}": unsupported resource scheme "${scheme}://" (only volume:// is supported)`);
    }
    const sep = rest.indexOf(':');
    const name = sep === -1 ? rest : rest.slice(0, sep);
    if (sep === -1 || name === '' || rest.slice(sep + 1) === '') {
      throw new MountSpecError(`mount "${shown}": expected volume://<name>:/container/path`);
    }
    if (!VOLUME_NAME.test(name)) {
      throw new MountSpecError(`mount "${shown}": volume name "${name}" may only contain letters, digits, "_", "." and "-"`);
    }
    return { type: 'volume', source: name, target: toContainerPath(rest.slice(sep + 1), shown) };
  }

  // A Windows host path keeps its drive colon: "C:\data:/data".
  const driveOffset = WINDOWS_DRIVE_PATH.test(decl) ? 2 : 0;
  const colons = [...decl.slice(driveOffset).matchAll(/:/g)].map((m) => (m.index ?? 0) + driveOffset);
  if (colons.length === 0) {
    if (driveOffset) throw new MountSpecError(`mount "${shown}": a Windows path needs an explicit container path (C:\\dir:/dir)`);
    return { type: 'bind', source: decl, target: toContainerPath(decl, shown) };
  }
  if (colons.length > 1) {
    // "/host:C:\\data" has two colons because its container side is a Windows path: say that, not "too many".
    toContainerPath(decl.slice((colons[0] as number) + 1), shown, { posixOnly: true });
    throw new MountSpecError(
      `mount "${shown}": too many ":" (expected /path, /host/path:/container/path or volume://name:/container/path)`,
    );
  }
  const at = colons[0] as number;
  const source = decl.slice(0, at);
  const target = decl.slice(at + 1);
  if (source === '' || target === '') {
    throw new MountSpecError(`mount "${shown}": both the host path and the container path must be given`);
  }
  return { type: 'bind', source, target: toContainerPath(target, shown) };
}

function toContainerPath(p: string, shown: string, check?: { posixOnly: true }): string {
  if (WINDOWS_DRIVE_PATH.test(p) || p.startsWith('\\')) {
    throw new MountSpecError(`mount "${shown}": container path "${p}" is a Windows path; containers need a POSIX path like /data`);
  }
  if (check?.posixOnly) return p;
  if (!p.startsWith('/')) {
    throw new MountSpecError(`mount "${shown}": container path "${p}" must be absolute (start with /)`);
  }
  rejectTraversal(shown, p, 'container');
  const clean = path.posix.normalize(p);
  return clean.length > 1 ? clean.replace(/\/+$/, '') : clean;
}

function rejectTraversal(shown: string, p: string, side: 'host' | 'container'): void {
  if (p.split(/[\\/]/).includes('..')) {
    throw new MountSpecError(`mount "${shown}": ${side} path "${p}" contains ".."; write the path without it`);
  }
}

function isAbsoluteHostPath(p: string): boolean {
  return p.startsWith('/') || WINDOWS_DRIVE_PATH.test(p) || p.startsWith('\\\\');
}

function normalizeHostPath(p: string): string {
  if (p.startsWith('/')) {
    const clean = path.posix.normalize(p);
    return clean.length > 1 ? clean.replace(/\/+$/, '') : clean;
  }
  return path.win32.normalize(p);
}

function printable(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

// ---------------------------------------------------------------------------------------------
// Network access and what Gatehouse can enforce.

export type NetworkAccess = 'none' | 'full' | 'restricted';

export function profileNetworkAccess(profile: PermissionProfile): NetworkAccess {
  if (profile.network?.mode === 'none') return 'none';
  const outbound = profile.network?.outbound;
  if (outbound?.insecure_allow_all) return 'full';
  if ((outbound?.allow_host?.length ?? 0) > 0 || (outbound?.allow_port?.length ?? 0) > 0) return 'restricted';
  return 'none';
}

export class UnsupportedProfileError extends Error {
  override name = 'UnsupportedProfileError';
}

/** Throws for what Gatehouse refuses rather than silently weakening or widening: privileged and allow-listed egress. */
export function assertProfileSupported(profile: PermissionProfile): void {
  const label = profile.name ? `Permission profile "${profile.name}"` : 'The permission profile';
  if (profile.privileged) {
    throw new UnsupportedProfileError(
      `${label} sets "privileged": true. Gatehouse never runs privileged containers (they can take over the host); remove the field.`,
    );
  }
  if (profileNetworkAccess(profile) === 'restricted') {
    const outbound = profile.network?.outbound;
    const allowed = [...(outbound?.allow_host ?? []), ...(outbound?.allow_port ?? []).map((p) => `port ${p}`)].join(', ');
    throw new UnsupportedProfileError(
      `${label} allows outbound traffic only to ${allowed}. Gatehouse cannot enforce per-host egress filtering yet, ` +
        'and will not grant full network access instead. Use "network" (or "outbound": {"insecure_allow_all": true}) ' +
        'to allow all outbound traffic, or remove allow_host/allow_port to run without network.',
    );
  }
}
