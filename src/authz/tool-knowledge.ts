/**
 * What a server has said about its tools and prompts in its list answers: tool annotations (which
 * Cedar policies read as `resource.destructiveHint`, ...) and the argument names each declares (which
 * `policy check` compares with the `arg_<name>` attributes policies read).
 *
 * It belongs to the server, not to a policy set: the authorization manager keeps one per server and
 * hands it to every authorizer it builds, so a policy edit (a new authorizer) does not forget what the
 * server said. Forgetting would drop the annotations a `forbid` on `destructiveHint` relies on until
 * the next tools/list: fail-open.
 */

import { GenerationalCache } from '../common/index.js';

/** Bounds what a hostile or broken server can make the core remember (at least half of it is kept). */
const MAX_ITEMS = 20_000;
const MAX_ARGUMENTS_PER_ITEM = 256;

export class ToolKnowledge {
  private readonly annotations = new GenerationalCache<string, Record<string, unknown>>(MAX_ITEMS);
  private readonly toolArguments = new GenerationalCache<string, readonly string[]>(MAX_ITEMS);
  private readonly promptArguments = new GenerationalCache<string, readonly string[]>(MAX_ITEMS);

  /** A tool's annotations from the latest tools/list that named it. */
  annotationsOf(tool: string): Record<string, unknown> | undefined {
    return this.annotations.get(tool);
  }

  /** Learns from a server's whole tools/list answer (before filtering), item by item. */
  learnTools(items: readonly Record<string, unknown>[]): void {
    for (const item of items) {
      const name = item['name'];
      if (typeof name !== 'string') continue;
      const ann = item['annotations'];
      if (typeof ann === 'object' && ann !== null && !Array.isArray(ann)) this.annotations.set(name, ann as Record<string, unknown>);
      else this.annotations.delete(name);
      this.toolArguments.set(name, schemaPropertyNames(item['inputSchema']));
    }
  }

  /** Learns from a server's prompts/list answer: each prompt's `arguments[].name`. */
  learnPrompts(items: readonly Record<string, unknown>[]): void {
    for (const item of items) {
      const name = item['name'];
      if (typeof name !== 'string') continue;
      const args = Array.isArray(item['arguments']) ? item['arguments'] : [];
      const names = args.flatMap((a: unknown) => (typeof a === 'object' && a !== null && typeof (a as { name?: unknown }).name === 'string' ? [(a as { name: string }).name] : []));
      this.promptArguments.set(name, names.slice(0, MAX_ARGUMENTS_PER_ITEM));
    }
  }

  /** Every argument name the server's tools / prompts declare; undefined until a list was seen. */
  knownArguments(): { toolArgs?: ReadonlySet<string>; promptArgs?: ReadonlySet<string> } {
    const union = (m: GenerationalCache<string, readonly string[]>) => (m.size === 0 ? undefined : new Set([...m.values()].flat()));
    const toolArgs = union(this.toolArguments);
    const promptArgs = union(this.promptArguments);
    return { ...(toolArgs ? { toolArgs } : {}), ...(promptArgs ? { promptArgs } : {}) };
  }
}

function schemaPropertyNames(schema: unknown): string[] {
  if (typeof schema !== 'object' || schema === null) return [];
  const props = (schema as { properties?: unknown }).properties;
  if (typeof props !== 'object' || props === null || Array.isArray(props)) return [];
  return Object.keys(props).slice(0, MAX_ARGUMENTS_PER_ITEM);
}
