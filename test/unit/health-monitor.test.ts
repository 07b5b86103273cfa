import { describe, expect, it } from 'vitest';
import { HealthMonitor } from '../../src/app/index.js';

describe('HealthMonitor', () => {
  const run = async (answers: boolean[], failures = 2) => {
    const changes: boolean[] = [];
    let i = 0;
    let inFlight = 0;
    let overlapped = false;
    const m = new HealthMonitor(
      async () => {
        inFlight++;
        if (inFlight > 1) overlapped = true;
        await new Promise((r) => setTimeout(r, 2));
        inFlight--;
        return answers[i++] ?? true;
      },
      { intervalMs: 1, timeoutMs: 5, failures },
      (healthy) => changes.push(healthy),
    );
    m.start();
    while (i < answers.length) await new Promise((r) => setTimeout(r, 2));
    m.stop();
    return { changes, overlapped };
  };

  it('reports unhealthy after the configured failures in a row, healthy at the first answer, and only changes', async () => {
    expect((await run([true, false, true, false, false, false, true, true])).changes).toEqual([false, true]);
    expect((await run([false, false, false], 3)).changes).toEqual([false]);
    expect((await run([true, false, true, false, true])).changes).toEqual([]);
  });

  it('never runs two probes at once, and a throwing probe is a failure', async () => {
    expect((await run([false, false, false, false])).overlapped).toBe(false);
    const changes: boolean[] = [];
    const m = new HealthMonitor(() => Promise.reject(new Error('x')), { intervalMs: 1, timeoutMs: 1, failures: 2 }, (h) => changes.push(h));
    m.start();
    await new Promise((r) => setTimeout(r, 40));
    m.stop();
    expect(changes).toEqual([false]);
  });
});
