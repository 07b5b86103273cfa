// Seeded randomness for property tests and benchmarks: the same seed gives the same policies and
// requests, so a failing case or a benchmark run can be replayed exactly.

/** mulberry32: small, fast, deterministic; plenty for test data (not for anything secret). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class SeededRandom {
  /** A float in [0, 1). */
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** An integer in [lo, hi], both included. */
  between(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.below(xs.length)] as T;
  }
  subset<T>(xs: readonly T[], p = 0.4): T[] {
    return xs.filter(() => this.chance(p));
  }
  /** Runs one of several generators, chosen by weight. */
  weighted<T>(options: ReadonlyArray<readonly [number, () => T]>): T {
    const total = options.reduce((s, [w]) => s + w, 0);
    let x = this.next() * total;
    for (const [w, f] of options) {
      x -= w;
      if (x < 0) return f();
    }
    return options[options.length - 1]![1]();
  }
}
