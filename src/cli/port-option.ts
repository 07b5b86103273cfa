import { CommanderError } from 'commander';
import { ExitCode } from './exit-codes.js';

/** A port flag's value (1-65535), or a usage error naming what was typed. */
export function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new CommanderError(ExitCode.usage, 'gatehouse.port', `"${v}" is not a port (1-65535)`);
  return n;
}
