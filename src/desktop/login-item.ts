import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Start at login. The operating system keeps this setting (the user can change it in the system's own
 * settings too), so Gatehouse stores no copy: the tray reads it back from the OS every time. macOS and
 * Windows have login items (Electron's app.setLoginItemSettings); Linux desktops have none in Electron,
 * so Gatehouse writes an XDG autostart entry (~/.config/autostart/gatehouse.desktop) instead.
 */

/** Given to the app when the OS starts it at login: it then stays in the tray, with no window. */
export const HIDDEN_ARG = '--hidden';

/** Whether this launch opens the window: not when started at login; yes when the user opened the app. */
export function opensWindowAtLaunch(argv: readonly string[], wasOpenedAtLogin: boolean): boolean {
  return !wasOpenedAtLogin && !argv.includes(HIDDEN_ARG);
}

/** The command the OS runs at login: the app's binary (the AppImage itself, not its mount), and the app folder in development. */
export function loginCommand(opts: { execPath: string; appImage?: string | undefined; packaged: boolean; appPath: string }): string[] {
  const binary = opts.appImage !== undefined && opts.appImage !== '' ? opts.appImage : opts.execPath;
  return [binary, ...(opts.packaged ? [] : [opts.appPath]), HIDDEN_ARG];
}

/** The autostart file: $XDG_CONFIG_HOME/autostart/gatehouse.desktop (default ~/.config). */
export function xdgAutostartFile(env: NodeJS.ProcessEnv = process.env, home = os.homedir()): string {
  const config = env['XDG_CONFIG_HOME'] !== undefined && path.isAbsolute(env['XDG_CONFIG_HOME']) ? env['XDG_CONFIG_HOME'] : path.join(home, '.config');
  return path.join(config, 'autostart', 'gatehouse.desktop');
}

/**
 * One argument of a desktop entry's Exec key (Desktop Entry Specification, "The Exec key"): reserved
 * characters put it in double quotes, where `"`, `` ` ``, `$` and `\` are escaped; `%` is doubled; then
 * the string escape applies, which doubles every backslash once more.
 */
export function execArg(arg: string): string {
  if (/[\n\r\t\0]/.test(arg)) throw new Error('A login item command cannot hold control characters.');
  const quoted = /^[A-Za-z0-9_\-./=:+,@]+$/.test(arg) ? arg : `"${arg.replace(/[\\"`$]/g, '\\$&')}"`;
  return quoted.replace(/%/g, '%%').replace(/\\/g, '\\\\');
}

export function xdgAutostartEntry(command: readonly string[]): string {
  return [
    '[Desktop Entry]',
    'Type=Application',
    'Version=1.0',
    'Name=Gatehouse',
    'Comment=Run MCP servers safely on your laptop',
    `Exec=${command.map(execArg).join(' ')}`,
    'Terminal=false',
    'X-GNOME-Autostart-enabled=true',
    '',
  ].join('\n');
}

/** Linux: the XDG autostart entry is the login item. */
export class XdgAutostart {
  constructor(readonly file: string = xdgAutostartFile()) {}

  /** On when our entry exists and is not disabled (desktops disable an entry with Hidden=true). */
  enabled(): boolean {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return false;
    }
    return !/^Hidden\s*=\s*true\s*$/m.test(text) && !/^X-GNOME-Autostart-enabled\s*=\s*false\s*$/m.test(text);
  }

  set(enabled: boolean, command: readonly string[]): void {
    if (!enabled) {
      fs.rmSync(this.file, { force: true });
      return;
    }
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    // Written whole, then renamed: a desktop session never reads half an entry.
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, xdgAutostartEntry(command), { mode: 0o644 });
    fs.renameSync(tmp, this.file);
  }
}
