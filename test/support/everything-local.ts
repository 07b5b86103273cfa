import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

/** Path to the real server-everything entry point installed from npm. */
export function everythingEntry(): string {
  const pkg = require.resolve('@modelcontextprotocol/server-everything/package.json');
  return path.join(path.dirname(pkg), 'dist', 'index.js');
}

/** Starts the real server-everything as a local stdio child (no container): fast proxy tests. */
export function spawnEverythingStdio(): ChildProcess {
  return spawn(process.execPath, [everythingEntry(), 'stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
}
