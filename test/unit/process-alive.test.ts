import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isProcessAlive } from '../../src/app/index.js';

describe('isProcessAlive', () => {
  it('is true for a live process and false for an unused pid', () => {
    expect(isProcessAlive(process.pid)).toBe(true);
    expect(isProcessAlive(2 ** 22 + 12345)).toBe(false);
  });

  it('treats a zombie (killed, never reaped) as dead, so a crashed core never blocks the next one', async () => {
    // A parent that forks a child which exits at once, and never waits for it: the child stays a zombie.
    const parent = spawn('python3', ['-c', 'import os,sys,time\npid=os.fork()\nif pid==0: os._exit(0)\nprint(pid, flush=True)\ntime.sleep(30)']);
    try {
      const pid = await new Promise<number>((resolve, reject) => {
        parent.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
        parent.once('error', reject);
      });
      await new Promise((r) => setTimeout(r, 200));
      expect(() => process.kill(pid, 0)).not.toThrow(); // the kernel still has it...
      expect(isProcessAlive(pid)).toBe(false); // ...but it is dead
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
