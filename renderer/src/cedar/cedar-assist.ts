import { snippetCompletion, type Completion, type CompletionSource } from '@codemirror/autocomplete';
import { syntaxTree } from '@codemirror/language';
import type { EditorState } from '@codemirror/state';
import { hoverTooltip, type Tooltip } from '@codemirror/view';
import { ACTIONS, argumentTerms, claimTerms, ENTITY_TYPES, KEYWORDS, promptTerms, RESOURCE_ATTRIBUTES, resourceTerms, serverTerms, toolTerms, type Features, type Term } from './cedar-vocabulary.js';

/**
 * Completion and hover help for Cedar in the policy editor: what fits where the cursor is (an action
 * inside `Action::"`, a tool inside `Tool::"`, a claim after `principal.`, an argument after
 * `resource.`), from ToolHive's model and the attached servers' own lists.
 */

const FEATURE_TYPES: Term[] = ['tool', 'prompt', 'resource'].map((f) => ({ label: f, detail: 'feature type', help: `What ${f}s/list asks for: \`list_${f}s\` on \`FeatureType::"${f}"\`.` }));

function completion(t: Term, boost = 0): Completion {
  return { label: t.label, detail: t.detail, info: () => helpBody(t.help), type: t.detail.includes('action') ? 'keyword' : t.detail.includes('type') ? 'type' : 'property', boost };
}

/** The tools and prompts the policy around the cursor names (`Tool::"x"`): their arguments come first. */
function namedFeatures(state: EditorState, pos: number): Set<string> {
  const before = state.doc.sliceString(Math.max(0, pos - 4000), pos);
  const policy = before.slice(before.lastIndexOf(';') + 1);
  return new Set([...policy.matchAll(/\b(Tool|Prompt)::"((?:[^"\\]|\\.)*)"/g)].map((m) => `${m[1]!.toLowerCase()} ${m[2]!}`));
}

/** Whether the position is in a comment (nothing is offered there). */
function inComment(state: EditorState, pos: number): boolean {
  return syntaxTree(state).resolveInner(pos, -1).name === 'comment';
}

/** The ids an entity type takes, for `Type::"…`. */
function idsOf(type: string, f: Features): Term[] {
  switch (type) {
    case 'Action':
      return ACTIONS;
    case 'Tool':
      return toolTerms(f);
    case 'Prompt':
      return promptTerms(f);
    case 'MCP':
      return serverTerms(f);
    case 'Resource':
      return resourceTerms(f);
    case 'FeatureType':
      return FEATURE_TYPES;
    default:
      return [];
  }
}

/** The attributes after `principal.`, `resource.` or `context.` (and after `… has`). */
function attributesOf(variable: string, f: Features): Term[] {
  if (variable === 'principal') return claimTerms(f);
  if (variable === 'resource') return [...RESOURCE_ATTRIBUTES, ...argumentTerms(f)];
  return [...claimTerms(f), ...argumentTerms(f)];
}

export function cedarCompletions(features: () => Features): CompletionSource {
  return (ctx) => {
    if (inComment(ctx.state, ctx.pos)) return null;
    const line = ctx.state.doc.lineAt(ctx.pos);
    const before = line.text.slice(0, ctx.pos - line.from);
    const f = features();
    const id = /([A-Za-z_][A-Za-z0-9_]*)::"((?:[^"\\]|\\.)*)$/.exec(before);
    if (id) {
      const options = idsOf(id[1]!, f).map((t) => completion(t));
      return options.length ? { from: ctx.pos - id[2]!.length, options, validFor: /^[^"]*$/ } : null;
    }
    const attr = /\b(principal|resource|context)\s*(?:\.\s*|\s+has\s+)([A-Za-z0-9_]*)$/.exec(before);
    if (attr) {
      const named = namedFeatures(ctx.state, ctx.pos);
      const ofNamed = (t: Term) => t.label.startsWith('arg_') && [...named].some((n) => (f.args.get(t.label.slice(4)) ?? []).includes(n));
      return { from: ctx.pos - attr[2]!.length, options: attributesOf(attr[1]!, f).map((t) => completion(t, ofNamed(t) ? 5 : 0)), validFor: /^[A-Za-z0-9_]*$/ };
    }
    const word = ctx.matchBefore(/[A-Za-z_][A-Za-z0-9_]*/);
    if (!word || (word.from === word.to && !ctx.explicit)) return null;
    const firstTool = [...f.tools.keys()][0] ?? 'weather';
    const options: Completion[] = [
      ...KEYWORDS.map((t) => completion(t, t.detail === 'effect' || t.detail === 'scope variable' ? 2 : 0)),
      ...ENTITY_TYPES.map((t) => ({ ...completion(t, 1), apply: `${t.label}::` })),
      snippetCompletion(`permit(principal, action == Action::"call_tool", resource == Tool::"\${${firstTool}}");`, { label: 'permit a tool', detail: 'snippet', info: 'Anyone may call this tool.', type: 'text' }),
      snippetCompletion('permit(principal, action == Action::"call_tool", resource)\nwhen { principal has claim_${roles} && principal.claim_${roles}.contains("${premium}") };', {
        label: 'permit by claim',
        detail: 'snippet',
        info: 'Callers whose claim holds a value may call any tool (the has test keeps a token without the claim from erroring).',
        type: 'text',
      }),
      snippetCompletion('forbid(principal, action == Action::"call_tool", resource)\nwhen { resource has destructiveHint && resource.destructiveHint };', { label: 'forbid destructive tools', detail: 'snippet', info: 'No tool the server marks destructive, whatever a permit says.', type: 'text' }),
    ];
    return { from: word.from, options, validFor: /^[A-Za-z_][A-Za-z0-9_]*$/ };
  };
}

/** What a word at a position is, for its help: an entity id, an attribute, a keyword or a type. */
function termAt(state: EditorState, pos: number, f: Features): { from: number; to: number; term: Term } | undefined {
  const line = state.doc.lineAt(pos);
  const text = line.text;
  const at = pos - line.from;
  // An entity reference around the position: Type::"id".
  for (const m of text.matchAll(/([A-Za-z_][A-Za-z0-9_]*)::"((?:[^"\\]|\\.)*)"/g)) {
    const start = m.index;
    const end = start + m[0].length;
    if (at < start || at > end) continue;
    const type = m[1]!;
    const idFrom = start + type.length + 3;
    if (at < idFrom - 1) {
      const t = ENTITY_TYPES.find((e) => e.label === type);
      return t ? { from: line.from + start, to: line.from + start + type.length, term: t } : undefined;
    }
    const t = idsOf(type, f).find((x) => x.label === m[2]);
    const unknown: Term = { label: m[2]!, detail: type, help: type === 'Action' ? 'Not an action of ToolHive\'s model: it never matches, so what it permits stays denied.' : `No attached server's list named it.` };
    return { from: line.from + idFrom, to: line.from + idFrom + m[2]!.length, term: t ?? unknown };
  }
  const word = /[A-Za-z_][A-Za-z0-9_]*/g;
  for (const m of text.matchAll(word)) {
    if (at < m.index || at > m.index + m[0].length) continue;
    const w = m[0];
    const range = { from: line.from + m.index, to: line.from + m.index + w.length };
    const inString = syntaxTree(state).resolveInner(range.from, 1).name === 'string';
    if (inString || inComment(state, range.from + 1)) return undefined;
    const term =
      (w.startsWith('claim_') && claimTerms(f).find((t) => t.label === w)) ||
      (w.startsWith('claim_') && { label: w, detail: 'claim', help: `The caller's \`${w.slice(6)}\` claim, when its token has one (test with \`has\`).` }) ||
      (w.startsWith('arg_') && argumentTerms(f).find((t) => t.label === w || `${t.label}_present` === w)) ||
      (w.startsWith('arg_') && { label: w, detail: 'argument', help: `The call's \`${w.slice(4)}\` argument. No attached server's tool or prompt declares it: a read of it errors, and denies.` }) ||
      KEYWORDS.find((t) => t.label === w) ||
      ENTITY_TYPES.find((t) => t.label === w) ||
      RESOURCE_ATTRIBUTES.find((t) => t.label === w);
    return term ? { ...range, term } : undefined;
  }
  return undefined;
}

/** Help text with `code` in it, as DOM (text nodes only: nothing in it is read as markup). */
function helpBody(help: string): HTMLElement {
  const body = document.createElement('div');
  body.className = 'cedar-help';
  for (const [i, part] of help.split('`').entries()) {
    if (i % 2 === 1) {
      const c = document.createElement('code');
      c.textContent = part;
      body.append(c);
    } else body.append(part);
  }
  return body;
}

function helpDom(term: Term): HTMLElement {
  const dom = document.createElement('div');
  dom.className = 'cm-hover';
  const head = document.createElement('div');
  const name = document.createElement('code');
  name.textContent = term.label;
  head.append(name, ` ${term.detail}`);
  dom.append(head, helpBody(term.help));
  return dom;
}

export function cedarHover(features: () => Features) {
  return hoverTooltip((view, pos): Tooltip | null => {
    const found = termAt(view.state, pos, features());
    return found ? { pos: found.from, end: found.to, above: true, create: () => ({ dom: helpDom(found.term) }) } : null;
  });
}
