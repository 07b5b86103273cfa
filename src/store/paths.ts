import os from 'node:os';
import path from 'node:path';

/**
 * The per-user folder where Gatehouse keeps its database, discovery file and logs.
 * GATEHOUSE_HOME overrides it (tests, portable installs, several profiles side by side).
 */
export function appDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  const override = env['GATEHOUSE_HOME'];
  if (override && override.trim() !== '') return path.resolve(override);
  const home = os.homedir();
  switch (platform) {
    case 'darwin':
      return path.join(home, 'Library', 'Application Support', 'Gatehouse');
    case 'win32':
      return path.join(env['APPDATA'] ?? path.join(home, 'AppData', 'Roaming'), 'Gatehouse');
    default:
      return path.join(env['XDG_DATA_HOME'] ?? path.join(home, '.local', 'share'), 'gatehouse');
  }
}

export interface AppPaths {
  dir: string;
  database: string;
  discovery: string;
  lock: string;
  coreLog: string;
}

export function appPaths(dir: string = appDataDir()): AppPaths {
  return {
    dir,
    database: path.join(dir, 'gatehouse.db'),
    discovery: path.join(dir, 'core.json'),
    lock: path.join(dir, 'core.lock'),
    coreLog: path.join(dir, 'core.log'),
  };
}
