import { uidKey, type CedarEntity, type EntityStore, type EntityUid } from './cedar-types.js';

const NO_ANCESTORS: ReadonlySet<string> = new Set();

/**
 * Entities by UID with ancestor lookups. Built as `base` (entities_json, shared by every request)
 * overlaid by the request's own entities: the request's win, as in ToolHive.
 */
export class MapEntityStore implements EntityStore {
  private readonly own = new Map<string, CedarEntity>();
  private readonly ancestorCache = new Map<string, ReadonlySet<string>>();

  /** The own entities' uid objects and keys, to hand out a key without recomputing it (see keyOf). */
  private readonly uids: EntityUid[] = [];
  private readonly keys: string[] = [];

  constructor(
    entities: readonly CedarEntity[],
    private readonly base?: MapEntityStore,
  ) {
    for (const e of entities) {
      const k = uidKey(e.uid);
      this.own.set(k, e);
      if (this.uids.length < 8) {
        this.uids.push(e.uid);
        this.keys.push(k);
      }
    }
  }

  /** uidKey(uid), from the store when uid is the very object of one of its first entities' uids (a request's usually are). */
  keyOf(uid: EntityUid): string {
    for (let i = 0; i < this.uids.length; i++) if (this.uids[i] === uid) return this.keys[i]!;
    return uidKey(uid);
  }

  get(uid: EntityUid): CedarEntity | undefined {
    return this.lookup(uidKey(uid));
  }

  getByKey(key: string): CedarEntity | undefined {
    return this.lookup(key);
  }

  get size(): number {
    return this.own.size + (this.base?.size ?? 0);
  }

  hasAncestor(uid: EntityUid, ancestor: EntityUid): boolean {
    return this.ancestorsOf(uidKey(uid)).has(uidKey(ancestor));
  }

  /** The uidKeys of every transitive parent of the entity with this uidKey (empty for an unknown entity). */
  ancestorKeys(key: string): ReadonlySet<string> {
    return this.ancestorsOf(key);
  }

  /** Keys of the entities this store holds itself (not those of its base). */
  ownKeys(): IterableIterator<string> {
    return this.own.keys();
  }

  all(): CedarEntity[] {
    const out = [...this.own.values()];
    if (this.base) for (const e of this.base.all()) if (!this.own.has(uidKey(e.uid))) out.push(e);
    return out;
  }

  private lookup(key: string): CedarEntity | undefined {
    return this.own.get(key) ?? this.base?.lookup(key);
  }

  /**
   * Transitive parents, cycle-safe (Cedar forbids cycles, but entities_json is user input). The
   * base's answers are reused where they hold here too (see baseClosure), so entities_json's groups
   * are walked once per engine, not once per request.
   */
  private ancestorsOf(key: string): ReadonlySet<string> {
    const cached = this.ancestorCache.get(key);
    if (cached) return cached;
    const entity = this.lookup(key);
    // Not cached for unknown entities: a base store lives as long as its engine, and tokens name any groups.
    if (!entity) return NO_ANCESTORS;
    let out: ReadonlySet<string>;
    if (entity.parents.length === 0) out = NO_ANCESTORS;
    else out = (this.base && this.baseClosure(entity)) || this.walk(entity);
    this.ancestorCache.set(key, out);
    return out;
  }

  /**
   * The entity's ancestors computed in the base (its parents and their base ancestors), when they are
   * its ancestors here too: when none of them is one of this store's own entities, every entity on
   * the way up is the base's, with the base's parents. Cached per entity object in the base, so a
   * caller's principal entity (the same object in each of its requests) costs a few lookups.
   */
  private baseClosure(entity: CedarEntity): ReadonlySet<string> | undefined {
    const closure = this.base!.closureOfParents(entity);
    for (const o of this.own.keys()) if (closure.has(o)) return undefined;
    return closure;
  }

  /** closureOfParents's caches (only a base store has them: a request's store is asked once per entity). */
  private parentClosures: WeakMap<CedarEntity, ReadonlySet<string>> | undefined;
  private keyClosures: Map<string, ReadonlySet<string>> | undefined;

  /** The keys of the entity's parents and of their ancestors in this store. */
  private closureOfParents(entity: CedarEntity): ReadonlySet<string> {
    if (entity.parents.length === 1) {
      // One parent (a request's resource in its server): by the parent's key, as entity objects are per request.
      const k = uidKey(entity.parents[0]!);
      this.keyClosures ??= new Map();
      let out = this.keyClosures.get(k);
      if (!out) {
        out = new Set([k, ...this.ancestorsOf(k)]);
        if (this.keyClosures.size < 10_000) this.keyClosures.set(k, out);
      }
      return out;
    }
    this.parentClosures ??= new WeakMap();
    let out = this.parentClosures.get(entity);
    if (!out) {
      const set = new Set<string>();
      for (const p of entity.parents) {
        const k = uidKey(p);
        set.add(k);
        for (const a of this.ancestorsOf(k)) set.add(a);
      }
      this.parentClosures.set(entity, (out = set));
    }
    return out;
  }

  private walk(entity: CedarEntity): ReadonlySet<string> {
    const seen = new Set<string>();
    const stack = [...entity.parents];
    while (stack.length > 0) {
      const p = stack.pop()!;
      const k = uidKey(p);
      if (seen.has(k)) continue;
      seen.add(k);
      const found = this.lookup(k);
      if (!found) continue;
      const shared = this.base && !this.own.has(k) ? this.baseClosure(found) : undefined;
      if (shared) {
        for (const a of shared) seen.add(a);
        continue;
      }
      for (const q of found.parents) stack.push(q);
    }
    return seen;
  }
}
