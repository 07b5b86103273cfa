/**
 * A bounded cache with approximately least-recently-used eviction, O(1) per operation: entries live in
 * a young and an old generation; a hit in the old one moves the entry to the young one, and when the
 * young generation is full the old one is dropped whole and the young one takes its place.
 *
 * Why not one Map evicting `keys().next()` (insertion order): V8 leaves deleted entries as holes at
 * the front of a Map until it rehashes, so at capacity each insert-and-evict walks them, measured here
 * at ~20 µs per operation for 20,000 entries against well under 1 µs for this.
 */
export class GenerationalCache<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly generation: number;

  /** At most `capacity` entries are kept; at least `capacity / 2` of the most recently used ones. */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 2) throw new RangeError('GenerationalCache capacity must be an integer of at least 2');
    this.generation = Math.floor(capacity / 2);
  }

  get(key: K): V | undefined {
    const v = this.young.get(key);
    if (v !== undefined) return v;
    const o = this.old.get(key);
    if (o === undefined) return undefined;
    this.old.delete(key);
    this.insert(key, o);
    return o;
  }

  set(key: K, value: V): void {
    this.old.delete(key);
    this.insert(key, value);
  }

  delete(key: K): boolean {
    const a = this.young.delete(key);
    const b = this.old.delete(key);
    return a || b;
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  /** Every entry kept, oldest generation first (a key lives in one generation only). */
  *entries(): IterableIterator<[K, V]> {
    yield* this.old.entries();
    yield* this.young.entries();
  }

  *values(): IterableIterator<V> {
    yield* this.old.values();
    yield* this.young.values();
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
  }

  private insert(key: K, value: V): void {
    if (!this.young.has(key) && this.young.size >= this.generation) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }
}
