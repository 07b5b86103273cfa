import type { ClientSpec } from './catalog.js';
import type { ConfigDocument } from './config-file/index.js';
import { entryFor, type BridgeLauncher, type ServerEndpoint } from './entries.js';

/** An entry Gatehouse wrote earlier (from the store): the only kind it may change or remove. */
export interface OwnedEntry {
  entry: string;
  server: string;
  content: unknown;
}

export interface SyncResult {
  /** Entries added or changed. */
  written: string[];
  /** Gatehouse's entries taken out (their server stopped, was removed or left the group). */
  removed: string[];
  /** Entries already as they should be. */
  unchanged: string[];
  /** Servers with an entry of the same name that Gatehouse did not write: left alone. */
  conflicts: { server: string; reason: string }[];
  /** Servers this client cannot use. */
  unsupported: { server: string; reason: string }[];
  /** What Gatehouse owns in the file afterwards (to store once the file is written). */
  owned: OwnedEntry[];
}

/** Key order does not matter when comparing entries: files reorder nothing, but parsers may. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x !== null && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : x,
  );
}

export const sameEntry = (a: unknown, b: unknown): boolean => canonical(a) === canonical(b);

/**
 * Brings one client's document to the wanted state: an entry per wanted server, named after it, and
 * none of Gatehouse's entries for servers no longer wanted. Entries Gatehouse did not write are never
 * changed or removed; an identical one is adopted.
 */
export function syncDocument(doc: ConfigDocument, client: ClientSpec, wanted: readonly ServerEndpoint[], owned: readonly OwnedEntry[], launcher: BridgeLauncher, file: string): SyncResult {
  const result: SyncResult = { written: [], removed: [], unchanged: [], conflicts: [], unsupported: [], owned: [] };
  const present = doc.entries();
  const ours = new Map(owned.map((o) => [o.entry, o]));
  for (const server of wanted) {
    const built = entryFor(client, server, launcher);
    if ('unsupported' in built) {
      result.unsupported.push({ server: server.name, reason: built.unsupported });
      continue;
    }
    // In an array of entries (Continue, Mistral Vibe) the item also carries its name.
    const entry = client.location.shape === 'array' ? { [client.location.idField ?? 'name']: server.name, ...built.entry } : built.entry;
    const current = present.get(server.name);
    if (current !== undefined && !ours.has(server.name) && !sameEntry(current, entry)) {
      result.conflicts.push({
        server: server.name,
        reason: `${file} already has an entry named "${server.name}" that Gatehouse did not write; it is left as it is (rename the server, or remove that entry yourself)`,
      });
      continue;
    }
    if (current !== undefined && sameEntry(current, entry)) result.unchanged.push(server.name);
    else {
      doc.set(server.name, entry);
      result.written.push(server.name);
    }
    result.owned.push({ entry: server.name, server: server.name, content: entry });
  }
  const kept = new Set(result.owned.map((o) => o.entry));
  for (const o of owned) {
    if (kept.has(o.entry)) continue;
    if (doc.remove(o.entry)) result.removed.push(o.entry);
  }
  return result;
}
