import os from 'node:os';
import path from 'node:path';

/** A path as the user knows it: their home folder shown as `~`. */
export function displayPath(file: string): string {
  const home = os.homedir();
  return home && (file === home || file.startsWith(home + path.sep)) ? '~' + file.slice(home.length) : file;
}

const UNTOUCHED = 'Gatehouse left it untouched';

/**
 * Base of every error about a client's configuration file. Messages name the file and say what to do;
 * they never include the content Gatehouse meant to write.
 */
export class ConfigFileError extends Error {
  constructor(readonly file: string, message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * The file cannot be parsed (`syntax` names what it should have been: "JSON", "YAML", "TOML", "UTF-8 text"),
 * or its structure is not what the client requires (no `syntax`).
 */
export class MalformedConfigError extends ConfigFileError {
  readonly line?: number;
  readonly column?: number;
  constructor(
    file: string,
    readonly detail: string,
    opts: { syntax?: string; line?: number; column?: number } = {},
  ) {
    const at = opts.line !== undefined ? ` at line ${opts.line}${opts.column !== undefined ? `, column ${opts.column}` : ''}` : '';
    const what = opts.syntax ? `is not valid ${opts.syntax}${at}` : `cannot be used${at}`;
    super(file, `${displayPath(file)} ${what}: ${detail}. ${UNTOUCHED}; fix it or move it away, then try again.`);
    if (opts.line !== undefined) this.line = opts.line;
    if (opts.column !== undefined) this.column = opts.column;
  }
}

/** The client's configuration folder does not exist: the client is not installed (Gatehouse never creates it). */
export class ClientNotInstalledError extends ConfigFileError {
  constructor(file: string) {
    const dir = displayPath(path.dirname(file));
    super(file, `${dir} does not exist, so the client that uses ${displayPath(file)} seems not to be installed. Install it (or start it once so it creates ${dir}), then try again.`);
  }
}

/** Another writer holds `<file>.lock` for longer than we were willing to wait. */
export class ConfigLockedError extends ConfigFileError {
  constructor(file: string, readonly lockFile: string, readonly pid: number | undefined) {
    super(
      file,
      `${displayPath(file)} is being edited by another process${pid ? ` (pid ${pid})` : ''}, which holds ${displayPath(lockFile)}. ` +
        `${UNTOUCHED}; try again in a moment, or delete the lock file if no such process is running.`,
    );
  }
}

/** The file has no write permission bit set: the user made it read-only on purpose, so Gatehouse respects that. */
export class ConfigReadOnlyError extends ConfigFileError {
  constructor(file: string) {
    super(file, `${displayPath(file)} is read-only. ${UNTOUCHED}; make it writable (chmod u+w) or make the change yourself, then try again.`);
  }
}

export class ConfigTooLargeError extends ConfigFileError {
  constructor(file: string, readonly size: number, readonly maxBytes: number) {
    super(file, `${displayPath(file)} is ${size} bytes, more than the ${maxBytes} bytes Gatehouse is willing to edit. ${UNTOUCHED}; check that it is the right file, shrink it or move it away, then try again.`);
  }
}

/** The file exists but is not a regular file (a folder, a device...). */
export class ConfigNotAFileError extends ConfigFileError {
  constructor(file: string) {
    super(file, `${displayPath(file)} is not a regular file. ${UNTOUCHED}; move it away, then try again.`);
  }
}

/**
 * An edit did not produce exactly the intended document (verified by parsing the result again).
 * This is a Gatehouse bug or a construct it cannot edit in place; the file is not written.
 */
export class ConfigEditError extends ConfigFileError {
  constructor(file: string, readonly detail: string) {
    super(file, `Gatehouse could not edit ${displayPath(file)} safely (${detail}). ${UNTOUCHED}; make the change by hand, and please report this.`);
  }
}
