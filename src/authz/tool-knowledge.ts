import { z } from 'zod';
import { GenerationalCache } from '../common/index.js';
import { TOOL_ANNOTATION_HINTS } from './entities.js';

/**
 * What a server has said about its tools and prompts in its list answers: tool annotation hints
 * (which Cedar policies read as `resource.destructiveHint`, ...) and the argument names each declares
 * (which `policy check` compares with the `arg_<name>` attributes policies read).
 *
 * It belongs to the server, not to a policy set: the authorization manager keeps one per server,
 * hands it to every authorizer it builds and saves it in the store, so neither a policy edit nor a
 * core restart forgets what the server said. Forgetting would drop the annotations a `forbid` on
 * `destructiveHint` relies on until the next tools/list: fail-open.
 */

/** Bounds what a hostile or broken server can make the core remember (at least half of it is kept). */
const MAX_ITEMS = 20_000;
const MAX_ARGUMENTS_PER_ITEM = 256;
const MAX_NAME_LENGTH = 512;
const MAX_CLAIM_NAMES = 256;

/** What is saved per server: small (names and boolean hints only) and validated when read back. */
export const KnowledgeSnapshotSchema = z.object({
  tools: z.array(z.object({ name: z.string().max(MAX_NAME_LENGTH), hints: z.record(z.string(), z.boolean()).optional(), arguments: z.array(z.string()).max(MAX_ARGUMENTS_PER_ITEM) })).max(MAX_ITEMS),
  prompts: z.array(z.object({ name: z.string().max(MAX_NAME_LENGTH), arguments: z.array(z.string()).max(MAX_ARGUMENTS_PER_ITEM) })).max(MAX_ITEMS),
  /** The resources a resources/list named (URI and name): what the policy editor offers inside `Resource::"`. */
  resources: z.array(z.object({ uri: z.string().max(MAX_NAME_LENGTH), name: z.string().max(MAX_NAME_LENGTH).optional() })).max(MAX_ITEMS).optional(),
  /** Names (never values) of the claims callers' tokens carried: what the policy editor offers as `claim_*`. */
  claims: z.array(z.string().max(MAX_NAME_LENGTH)).max(MAX_CLAIM_NAMES).optional(),
});
export type KnowledgeSnapshot = z.infer<typeof KnowledgeSnapshotSchema>;

export class ToolKnowledge {
  private readonly hints = new GenerationalCache<string, Record<string, boolean>>(MAX_ITEMS);
  private readonly toolArguments = new GenerationalCache<string, readonly string[]>(MAX_ITEMS);
  private readonly promptArguments = new GenerationalCache<string, readonly string[]>(MAX_ITEMS);
  private readonly claimNames = new Set<string>();
  private readonly resourceNames = new GenerationalCache<string, string>(MAX_ITEMS);
  /** Called after a list answer changed what is known (to save it). */
  onChange: (() => void) | undefined;

  /** Rebuilds saved knowledge; anything that does not have the saved shape is left out. */
  static restore(saved: unknown): ToolKnowledge {
    const k = new ToolKnowledge();
    const parsed = KnowledgeSnapshotSchema.safeParse(saved);
    if (!parsed.success) return k;
    for (const t of parsed.data.tools) {
      if (t.hints) k.hints.set(t.name, t.hints);
      k.toolArguments.set(t.name, t.arguments);
    }
    for (const p of parsed.data.prompts) k.promptArguments.set(p.name, p.arguments);
    for (const c of parsed.data.claims ?? []) k.claimNames.add(c);
    for (const r of parsed.data.resources ?? []) k.resourceNames.set(r.uri, r.name ?? '');
    return k;
  }

  snapshot(): KnowledgeSnapshot {
    const tools = [...this.toolArguments.entries()].map(([name, args]) => {
      const hints = this.hints.get(name);
      return { name, ...(hints ? { hints } : {}), arguments: [...args] };
    });
    return { tools, prompts: [...this.promptArguments.entries()].map(([name, args]) => ({ name, arguments: [...args] })), ...(this.claimNames.size ? { claims: [...this.claimNames] } : {}), ...(this.resourceNames.size ? { resources: [...this.resourceNames.entries()].map(([uri, name]) => ({ uri, ...(name ? { name } : {}) })) } : {}) };
  }

  /** Learns the URIs (and names) of a resources/list answer. */
  learnResources(items: readonly Record<string, unknown>[]): void {
    let changed = false;
    for (const item of items) {
      const uri = item['uri'];
      if (typeof uri !== 'string' || uri.length > MAX_NAME_LENGTH) continue;
      const name = typeof item['name'] === 'string' ? item['name'].slice(0, MAX_NAME_LENGTH) : '';
      if (this.resourceNames.get(uri) !== name) changed = true;
      this.resourceNames.set(uri, name);
    }
    if (changed) this.onChange?.();
  }

  /** Notes the claim names of a caller's token (once per token: the authorizer calls it when it builds the principal). */
  learnClaims(names: readonly string[]): void {
    let changed = false;
    for (const n of names) {
      if (this.claimNames.size >= MAX_CLAIM_NAMES) break;
      if (n.length > MAX_NAME_LENGTH || this.claimNames.has(n)) continue;
      this.claimNames.add(n);
      changed = true;
    }
    if (changed) this.onChange?.();
  }

  /** What the policy editor offers: tools and prompts with their argument names, and the claim names seen. */
  vocabulary(): { tools: { name: string; arguments: string[]; hints: Record<string, boolean> }[]; prompts: { name: string; arguments: string[] }[]; resources: { uri: string; name: string }[]; claims: string[] } {
    return {
      resources: [...this.resourceNames.entries()].map(([uri, name]) => ({ uri, name })),
      tools: [...this.toolArguments.entries()].map(([name, args]) => ({ name, arguments: [...args], hints: this.hints.get(name) ?? {} })),
      prompts: [...this.promptArguments.entries()].map(([name, args]) => ({ name, arguments: [...args] })),
      claims: [...this.claimNames],
    };
  }

  /** A tool's boolean annotation hints (readOnlyHint, destructiveHint, ...) from the latest tools/list that named it. */
  annotationsOf(tool: string): Record<string, boolean> | undefined {
    return this.hints.get(tool);
  }

  /** Learns from a server's whole tools/list answer (before filtering), item by item. */
  learnTools(items: readonly Record<string, unknown>[]): void {
    let changed = false;
    for (const item of items) {
      const name = item['name'];
      if (typeof name !== 'string' || name.length > MAX_NAME_LENGTH) continue;
      const hints = booleanHints(item['annotations']);
      const args = schemaPropertyNames(item['inputSchema']);
      if (!changed && (!sameHints(this.hints.get(name), hints) || !sameNames(this.toolArguments.get(name), args))) changed = true;
      if (hints) this.hints.set(name, hints);
      else this.hints.delete(name);
      this.toolArguments.set(name, args);
    }
    if (changed) this.onChange?.();
  }

  /** Learns from a server's prompts/list answer: each prompt's `arguments[].name`. */
  learnPrompts(items: readonly Record<string, unknown>[]): void {
    let changed = false;
    for (const item of items) {
      const name = item['name'];
      if (typeof name !== 'string' || name.length > MAX_NAME_LENGTH) continue;
      const declared = Array.isArray(item['arguments']) ? item['arguments'] : [];
      const args = declared.flatMap((a: unknown) => (typeof a === 'object' && a !== null && typeof (a as { name?: unknown }).name === 'string' ? [(a as { name: string }).name] : [])).slice(0, MAX_ARGUMENTS_PER_ITEM);
      if (!changed && !sameNames(this.promptArguments.get(name), args)) changed = true;
      this.promptArguments.set(name, args);
    }
    if (changed) this.onChange?.();
  }

  /** Every argument name the server's tools / prompts declare; absent until such a list was seen. */
  knownArguments(): { toolArgs?: ReadonlySet<string>; promptArgs?: ReadonlySet<string>; tools?: ReadonlyMap<string, readonly string[]>; prompts?: ReadonlyMap<string, readonly string[]> } {
    const union = (m: GenerationalCache<string, readonly string[]>) => (m.size === 0 ? undefined : new Set([...m.values()].flat()));
    const each = (m: GenerationalCache<string, readonly string[]>) => (m.size === 0 ? undefined : new Map(m.entries()));
    const toolArgs = union(this.toolArguments);
    const promptArgs = union(this.promptArguments);
    const tools = each(this.toolArguments);
    const prompts = each(this.promptArguments);
    return { ...(toolArgs ? { toolArgs } : {}), ...(promptArgs ? { promptArgs } : {}), ...(tools ? { tools } : {}), ...(prompts ? { prompts } : {}) };
  }
}

/** Only the boolean hints reach policies (ToolHive's model); titles and the like are not kept. */
function booleanHints(annotations: unknown): Record<string, boolean> | undefined {
  if (typeof annotations !== 'object' || annotations === null || Array.isArray(annotations)) return undefined;
  const hints: Record<string, boolean> = {};
  let any = false;
  for (const hint of TOOL_ANNOTATION_HINTS) {
    const v = (annotations as Record<string, unknown>)[hint];
    if (typeof v === 'boolean') (hints[hint] = v), (any = true);
  }
  return any ? hints : undefined;
}

function sameHints(a: Record<string, boolean> | undefined, b: Record<string, boolean> | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

function sameNames(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((n, i) => n === b[i]);
}

function schemaPropertyNames(schema: unknown): string[] {
  if (typeof schema !== 'object' || schema === null) return [];
  const props = (schema as { properties?: unknown }).properties;
  if (typeof props !== 'object' || props === null || Array.isArray(props)) return [];
  return Object.keys(props).slice(0, MAX_ARGUMENTS_PER_ITEM);
}
