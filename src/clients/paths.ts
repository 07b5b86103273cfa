import os from 'node:os';
import path from 'node:path';
import type { ClientSpec, PathSpec, Platform } from './catalog.js';

/** Where a user's files are: the home folder, the OS and the variables that move them. */
export interface UserEnvironment {
  home: string;
  platform: Platform;
  env: Readonly<Record<string, string | undefined>>;
}

export function currentUserEnvironment(): UserEnvironment {
  const p = process.platform;
  return { home: os.homedir(), platform: p === 'darwin' || p === 'win32' ? p : 'linux', env: process.env };
}

/** The path module of the target OS, so macOS and Windows paths can be computed (and tested) anywhere. */
function pathsFor(platform: Platform): path.PlatformPath {
  return platform === 'win32' ? path.win32 : path.posix;
}

function appData(u: UserEnvironment): string {
  return u.env['APPDATA'] || pathsFor('win32').join(u.home, 'AppData', 'Roaming');
}

/** `$CONFIG`: the folder where desktop apps keep settings on this OS. */
function configDir(u: UserEnvironment): string {
  const p = pathsFor(u.platform);
  if (u.platform === 'win32') return appData(u);
  if (u.platform === 'darwin') return p.join(u.home, 'Library', 'Application Support');
  const xdg = u.env['XDG_CONFIG_HOME'];
  return xdg && p.isAbsolute(xdg) ? xdg : p.join(u.home, '.config');
}

export function resolvePathSpec(spec: PathSpec, u: UserEnvironment): string {
  const template = spec[u.platform] ?? spec.all;
  const p = pathsFor(u.platform);
  const [head, ...rest] = template.split('/');
  const base = head === '~' ? u.home : head === '$CONFIG' ? configDir(u) : head === '$APPDATA' ? appData(u) : undefined;
  if (base === undefined) throw new Error(`client path "${template}" must start with ~, $CONFIG or $APPDATA`);
  return p.join(base, ...rest);
}

/** The client's configuration file for this user. */
export function configFileOf(client: ClientSpec, u: UserEnvironment): string {
  const override = client.dirOverride ? u.env[client.dirOverride.variable] : undefined;
  if (client.dirOverride && override && pathsFor(u.platform).isAbsolute(override)) return pathsFor(u.platform).join(override, client.dirOverride.file);
  return resolvePathSpec(client.file, u);
}

/** The folder whose existence means the client is installed. */
export function detectDirOf(client: ClientSpec, u: UserEnvironment): string {
  if (client.detect && !(client.dirOverride && u.env[client.dirOverride.variable])) return resolvePathSpec(client.detect, u);
  return pathsFor(u.platform).dirname(configFileOf(client, u));
}
