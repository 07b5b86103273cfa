import { uidKey, type CedarEntity, type EntityStore, type EntityUid } from './cedar-types.js';

/**
 * Entities by UID with ancestor lookups. Built as `base` (entities_json, shared by every request)
 * overlaid by the request's own entities: the request's win, as in ToolHive.
 */
export class MapEntityStore implements EntityStore {
  private readonly own = new Map<string, CedarEntity>();
  private readonly ancestorCache = new Map<string, Set<string>>();

  constructor(entities: readonly CedarEntity[], private readonly base?: MapEntityStore) {
    for (const e of entities) this.own.set(uidKey(e.uid), e);
  }

  get(uid: EntityUid): CedarEntity | undefined {
    return this.lookup(uidKey(uid));
  }

  get size(): number {
    return this.own.size + (this.base?.size ?? 0);
  }

  hasAncestor(uid: EntityUid, ancestor: EntityUid): boolean {
    return this.ancestorsOf(uidKey(uid)).has(uidKey(ancestor));
  }

  all(): CedarEntity[] {
    const out = [...this.own.values()];
    if (this.base) for (const e of this.base.all()) if (!this.own.has(uidKey(e.uid))) out.push(e);
    return out;
  }

  private lookup(key: string): CedarEntity | undefined {
    return this.own.get(key) ?? this.base?.lookup(key);
  }

  /** Transitive parents, cycle-safe (Cedar forbids cycles, but entities_json is user input). */
  private ancestorsOf(key: string): Set<string> {
    const cached = this.ancestorCache.get(key);
    if (cached) return cached;
    const seen = new Set<string>();
    const stack = [...(this.lookup(key)?.parents ?? [])];
    while (stack.length > 0) {
      const p = stack.pop()!;
      const k = uidKey(p);
      if (seen.has(k)) continue;
      seen.add(k);
      stack.push(...(this.lookup(k)?.parents ?? []));
    }
    this.ancestorCache.set(key, seen);
    return seen;
  }
}
