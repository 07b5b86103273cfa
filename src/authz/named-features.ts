import type { DetailedError, PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';
import { warningAt } from './cedar.js';

/**
 * Tools and prompts a policy names (`Tool::"get-sum"`) that none of the attached servers offers: a
 * typo there is as silent as a typo'd action (the policy never matches, so default deny), and the
 * servers' lists say what the names are.
 */

const FEATURE_TYPES = { Tool: 'tool', Prompt: 'prompt' } as const;
type FeatureType = keyof typeof FEATURE_TYPES;

/** Every `Tool::"…"` / `Prompt::"…"` the policy names, in its scope or its conditions. */
export function namedFeatures(json: PolicyJson): { type: FeatureType; id: string }[] {
  const out = new Map<string, { type: FeatureType; id: string }>();
  const walk = (v: unknown): void => {
    if (typeof v !== 'object' || v === null) return;
    if (Array.isArray(v)) return v.forEach(walk);
    const o = v as Record<string, unknown>;
    // Entity references: `{ type, id }` in scopes, `{ __entity: { type, id } }` in values.
    const ref = (o['__entity'] ?? o) as { type?: unknown; id?: unknown };
    if ((ref.type === 'Tool' || ref.type === 'Prompt') && typeof ref.id === 'string') out.set(`${ref.type}\0${ref.id}`, { type: ref.type, id: ref.id });
    Object.values(o).forEach(walk);
  };
  walk(json);
  return [...out.values()];
}

/** Levenshtein distance: how many single-character edits turn one name into the other. */
export function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** Near enough to be the name meant: a slip of a key or two, not another word. */
export function isNear(typed: string, name: string): boolean {
  return distance(typed, name) <= Math.max(2, Math.floor(typed.length / 3));
}

/** The finding for a name no server offers, at its place in the policy text, with the nearest real name. */
export function explainUnknownFeature(policyText: string, named: { type: FeatureType; id: string }, offered: readonly string[], servers: readonly string[]): DetailedError {
  const what = FEATURE_TYPES[named.type];
  const literal = JSON.stringify(named.id);
  const at = new RegExp(`${named.type}\\s*::\\s*${literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`).exec(policyText);
  const nearest = [...offered].sort((x, y) => distance(named.id, x) - distance(named.id, y))[0];
  const close = nearest !== undefined && isNear(named.id, nearest);
  const whose = servers.length ? servers.join(', ') : 'the attached servers';
  return warningAt(
    `${named.type}::${literal} is not a ${what} of ${whose} (as ${servers.length === 1 ? 'its' : 'their'} ${what} list last said): this policy never matches it, so such ${what} calls are denied by default`,
    close ? `did you mean ${named.type}::${JSON.stringify(nearest)}?` : `${whose} offer${servers.length === 1 ? 's' : ''}: ${offered.slice(0, 6).join(', ')}${offered.length > 6 ? `, and ${offered.length - 6} more` : ''}`,
    at,
  );
}
