import { ErrorCodes, errorResponse, type JsonRpcId, type JsonRpcMessage, type ListKind } from '../mcp/index.js';

/**
 * Filtering of list answers by the authorization policies, as ToolHive does it: `tools/list`,
 * `prompts/list` and `resources/list` are never blocked, but the caller only sees the items it may use
 * (`call_tool` on the tool, `get_prompt` on the prompt, `read_resource` on the URI). It works on message
 * objects: the proxy's writers hand every message to the response tap before serializing it, so the
 * answer the client reads is the one filtered here. Whatever cannot be checked fails closed: the answer
 * becomes a JSON-RPC error, never an unfiltered list.
 */

export const LIST_FILTER_FAILURE_MESSAGE = "The server's list response could not be checked against the authorization policies.";

const ITEM_KEY: Readonly<Record<ListKind, string>> = { tools: 'name', prompts: 'name', resources: 'uri' };

export interface ListFilter {
  /** Whether the caller may see this item (it has a string `name`, or `uri` for resources). */
  keep(item: Record<string, unknown>): boolean;
  /** Sees the server's whole list (its object items) before filtering, e.g. to learn tool annotations. */
  onItems?(items: Record<string, unknown>[]): void;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The answer with only the items the caller may use; an error when it has no list of that kind to check. */
export function filterListAnswer(answer: JsonRpcMessage, kind: ListKind, filter: ListFilter, onFailure?: (why: string) => void): JsonRpcMessage {
  if (!('result' in answer)) return answer;
  const fail = (why: string): JsonRpcMessage => {
    onFailure?.(why);
    return errorResponse(answer.id as JsonRpcId, ErrorCodes.InternalError, LIST_FILTER_FAILURE_MESSAGE);
  };
  const result = answer.result;
  if (!isObject(result) || !Object.hasOwn(result, kind)) return fail(`the answer has no ${kind} list`);
  const items = result[kind];
  if (!Array.isArray(items)) return fail(`result.${kind} is not an array`);
  const objects = items.filter(isObject);
  if (filter.onItems) {
    try {
      filter.onItems(objects);
    } catch {
      // Learning is best effort; the filter below never depends on it.
    }
  }
  const key = ITEM_KEY[kind];
  const kept = objects.filter((item) => typeof item[key] === 'string' && filter.keep(item));
  return { ...answer, result: { ...result, [kind]: kept } };
}
