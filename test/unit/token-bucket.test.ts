import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/common/index.js';

describe('the token bucket', () => {
  it('lets a burst through, then one per interval, and says how long to wait', () => {
    let t = 0;
    const b = new TokenBucket(1, 5, () => t);
    expect(Array.from({ length: 6 }, () => b.take())).toEqual([true, true, true, true, true, false]);
    expect(b.retryAfterSeconds()).toBe(1);
    t += 500;
    expect(b.take()).toBe(false);
    t += 500;
    expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
    t += 60_000; // a long pause refills only up to the burst
    expect(Array.from({ length: 6 }, () => b.take()).filter(Boolean)).toHaveLength(5);
  });

  it('waits longer when the rate is slower', () => {
    let t = 0;
    const b = new TokenBucket(0.25, 1, () => t);
    expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
    expect(b.retryAfterSeconds()).toBe(4);
  });
});
