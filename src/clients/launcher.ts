import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BridgeLauncher } from './entries.js';
import type { Platform } from './catalog.js';

/** bin/gatehouse.js of this installation (this file is dist/clients/launcher.js). */
export function gatehouseBin(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'gatehouse.js');
}

/**
 * Windows variables a bridge and a core it starts need, which Claude Desktop strips from the
 * environment of the commands it runs. Paths only, never secrets.
 */
const WINDOWS_PASSTHROUGH = ['APPDATA', 'LOCALAPPDATA', 'USERPROFILE', 'ProgramData', 'ProgramFiles', 'SystemRoot'];

/**
 * How client entries start `gatehouse bridge`: this Node binary and this script by absolute path (no
 * PATH or shell needed), and GATEHOUSE_HOME so the bridge finds this core's data folder. The Electron
 * app passes its own (its binary with ELECTRON_RUN_AS_NODE=1).
 */
export function nodeBridgeLauncher(home: string, platform: Platform, env: NodeJS.ProcessEnv = process.env): BridgeLauncher {
  const extra: Record<string, string> = { GATEHOUSE_HOME: home };
  if (platform === 'win32') {
    for (const k of WINDOWS_PASSTHROUGH) if (env[k]) extra[k] = env[k];
  } else if (env['HOME']) {
    // A core the bridge starts needs HOME to find the engine's socket (Docker Desktop, Colima, Podman).
    extra['HOME'] = env['HOME'];
  }
  return { command: process.execPath, args: [gatehouseBin()], env: extra };
}

/**
 * The desktop app's launcher: its own binary run as plain Node (ELECTRON_RUN_AS_NODE=1) on the command
 * line's entry point inside the app, so users of the app need no separate Node installation.
 */
export function electronBridgeLauncher(execPath: string, cliMain: string, home: string, platform: Platform, env: NodeJS.ProcessEnv = process.env): BridgeLauncher {
  const base = nodeBridgeLauncher(home, platform, env);
  return { command: execPath, args: [cliMain], env: { ...base.env, ELECTRON_RUN_AS_NODE: '1' } };
}
