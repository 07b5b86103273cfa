import { describe, expect, it } from 'vitest';
import { GenerationalCache } from '../../src/common/index.js';

describe('GenerationalCache', () => {
  it('never holds more than its capacity, and always the most recently used half', () => {
    const c = new GenerationalCache<number, string>(10);
    for (let i = 0; i < 1000; i++) {
      c.set(i, `v${i}`);
      expect(c.size).toBeLessThanOrEqual(10);
      for (let j = Math.max(0, i - 4); j <= i; j++) expect(c.get(j), `entry ${j} after inserting ${i}`).toBe(`v${j}`);
    }
  });

  it('a hit keeps an entry alive across generations; a miss stays a miss', () => {
    const c = new GenerationalCache<string, number>(4);
    c.set('keep', 1);
    for (let i = 0; i < 50; i++) {
      c.set(`x${i}`, i);
      expect(c.get('keep')).toBe(1); // used between every insert: never evicted
    }
    expect(c.get('x0')).toBeUndefined();
    expect(c.get('nothing')).toBeUndefined();
  });

  it('set replaces, delete removes from either generation, clear empties', () => {
    const c = new GenerationalCache<string, number>(4);
    c.set('a', 1);
    c.set('b', 2);
    c.set('c', 3); // 'a' and 'b' are now the old generation
    c.set('a', 10);
    expect(c.get('a')).toBe(10);
    expect(c.delete('b')).toBe(true);
    expect(c.delete('b')).toBe(false);
    expect(c.get('b')).toBeUndefined();
    c.clear();
    expect(c.size).toBe(0);
    expect(c.get('c')).toBeUndefined();
  });

  it('lists every kept entry once, oldest generation first', () => {
    const c = new GenerationalCache<string, number>(4);
    for (const [k, v] of [['a', 1], ['b', 2], ['c', 3], ['d', 4]] as const) c.set(k, v);
    c.set('e', 5); // the young generation {c, d} was full: it becomes the old one, {a, b} is dropped
    c.set('c', 30); // moves from the old generation to the young one
    expect([...c.entries()]).toEqual([['d', 4], ['e', 5], ['c', 30]]);
    expect([...c.values()]).toEqual([4, 5, 30]);
  });

  it('refuses a capacity that cannot hold two generations', () => {
    expect(() => new GenerationalCache(1)).toThrow(RangeError);
  });
});
