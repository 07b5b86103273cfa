import type { PolicyVocabulary } from '../../../src/api/browser.js';

/**
 * What a Gatehouse (ToolHive) policy can name, with a line of help each: the actions and entity types
 * of ToolHive's MCP model, the attributes it gives principals, resources and context, Cedar's keywords,
 * and, from the attached servers, their tools, prompts, argument names and the claims callers carried.
 */

export interface Term {
  label: string;
  /** Where it comes from (shown beside the completion): "action", "tool of weather", ... */
  detail: string;
  help: string;
}

export const ACTIONS: Term[] = [
  { label: 'call_tool', detail: 'action', help: 'tools/call. The resource is `Tool::"<name>"`, with `arg_<name>` for each top-level argument and the tool\'s annotation hints.' },
  { label: 'get_prompt', detail: 'action', help: 'prompts/get. The resource is `Prompt::"<name>"`, with `arg_<name>` for its arguments.' },
  { label: 'read_resource', detail: 'action', help: 'resources/read. The resource is `Resource::"<uri>"`, with `uri`.' },
  { label: 'list_tools', detail: 'never asked', help: 'In ToolHive\'s model, but never asked (by ToolHive\'s proxy or Gatehouse): tools/list answers with the tools the caller may call, so a policy about it has no effect. Write it for `call_tool`.' },
  { label: 'list_prompts', detail: 'never asked', help: 'In ToolHive\'s model, but never asked: prompts/list answers with the prompts the caller may get (`get_prompt`), so a policy about it has no effect.' },
  { label: 'list_resources', detail: 'never asked', help: 'In ToolHive\'s model, but never asked: resources/list answers with the resources the caller may read (`read_resource`), so a policy about it has no effect.' },
];

export const ENTITY_TYPES: Term[] = [
  { label: 'Client', detail: 'principal type', help: 'The caller: `Client::"<sub>"`, each claim of its token as `claim_<name>`, member of `THVGroup::"<group>"` for its groups and roles.' },
  { label: 'Action', detail: 'action type', help: 'What the caller does: `Action::"call_tool"`, `"get_prompt"` or `"read_resource"` (lists show what these permit).' },
  { label: 'Tool', detail: 'resource type', help: 'A tool, by name: `Tool::"weather"`. Member of `MCP::"<server>"`.' },
  { label: 'Prompt', detail: 'resource type', help: 'A prompt, by name. Member of `MCP::"<server>"`.' },
  { label: 'Resource', detail: 'resource type', help: 'A resource, by URI: `Resource::"file:///notes.txt"`.' },
  { label: 'MCP', detail: 'entity type', help: 'A server: every tool, prompt and resource is `in MCP::"<server>"`.' },
  { label: 'FeatureType', detail: 'resource type', help: 'What a list asks for: `FeatureType::"tool"`, `"prompt"`, `"resource"`.' },
  { label: 'THVGroup', detail: 'entity type', help: 'A group or role of the caller (from the groups, roles or cognito:groups claim): `principal in THVGroup::"admins"`.' },
];

export const RESOURCE_ATTRIBUTES: Term[] = [
  { label: 'name', detail: 'resource attribute', help: 'The tool or prompt name, or the resource URI.' },
  { label: 'operation', detail: 'resource attribute', help: '"call", "get", "read" or "list".' },
  { label: 'feature', detail: 'resource attribute', help: '"tool", "prompt" or "resource".' },
  { label: 'uri', detail: 'resource attribute', help: 'The URI of a resource (read_resource).' },
  { label: 'readOnlyHint', detail: 'tool annotation', help: 'From the server\'s tools/list: the tool does not change anything. Absent when the server did not say: test with `has`.' },
  { label: 'destructiveHint', detail: 'tool annotation', help: 'From the server\'s tools/list: the tool may destroy data. Absent when the server did not say: test with `has`.' },
  { label: 'idempotentHint', detail: 'tool annotation', help: 'From the server\'s tools/list: calling it twice does no more than once.' },
  { label: 'openWorldHint', detail: 'tool annotation', help: 'From the server\'s tools/list: the tool reaches outside (the web, other systems).' },
];

/** Claims most tokens carry, offered before any caller was seen. */
export const COMMON_CLAIMS = ['sub', 'iss', 'aud', 'email', 'name', 'preferred_username', 'groups', 'roles', 'scope'];

export const KEYWORDS: Term[] = [
  { label: 'permit', detail: 'effect', help: 'Allows what its scope and conditions match. Nothing is allowed unless a permit matches (default deny).' },
  { label: 'forbid', detail: 'effect', help: 'Denies what it matches, whatever a permit says: a forbid always wins.' },
  { label: 'when', detail: 'condition', help: 'The policy applies only when this is true. An error here (reading an attribute that is absent) denies the whole request.' },
  { label: 'unless', detail: 'condition', help: 'The policy applies only when this is false.' },
  { label: 'principal', detail: 'scope variable', help: 'The caller, `Client::"<sub>"`: `principal.claim_<name>` for its claims.' },
  { label: 'action', detail: 'scope variable', help: 'What it does: `action == Action::"call_tool"`, or `action in [...]`.' },
  { label: 'resource', detail: 'scope variable', help: 'What it acts on: `Tool::"..."`, `Prompt::"..."`, `Resource::"..."`, with `arg_<name>` for the call\'s arguments.' },
  { label: 'context', detail: 'scope variable', help: 'Every `claim_<name>` and `arg_<name>` of the request, as on principal and resource.' },
  { label: 'has', detail: 'operator', help: 'Whether an attribute is there: `principal has claim_roles && principal.claim_roles.contains("admin")` never errors.' },
  { label: 'like', detail: 'operator', help: 'A string pattern with `*`: `resource.arg_path like "/tmp/*"`.' },
  { label: 'in', detail: 'operator', help: 'Membership: `principal in THVGroup::"admins"`, `resource in MCP::"github"`, or `action in [Action::"a", Action::"b"]`.' },
  { label: 'is', detail: 'operator', help: 'An entity\'s type: `resource is Tool`.' },
  { label: 'if', detail: 'expression', help: '`if c then a else b`.' },
  { label: 'then', detail: 'expression', help: '`if c then a else b`.' },
  { label: 'else', detail: 'expression', help: '`if c then a else b`.' },
  { label: 'contains', detail: 'method', help: 'Whether a set holds a value: `principal.claim_roles.contains("premium")`.' },
  { label: 'containsAll', detail: 'method', help: 'Whether a set holds every value of another.' },
  { label: 'containsAny', detail: 'method', help: 'Whether a set holds any value of another.' },
  { label: 'isEmpty', detail: 'method', help: 'Whether a set is empty.' },
];

/** The attached servers' names and features, merged (a tool of two servers is one completion naming both). */
export interface Features {
  servers: string[];
  tools: Map<string, { servers: string[]; arguments: string[]; hints: Record<string, boolean> }>;
  prompts: Map<string, { servers: string[]; arguments: string[] }>;
  claims: string[];
  resources: Map<string, { servers: string[]; name: string }>;
  /** Argument names with the tools and prompts that declare them. */
  args: Map<string, string[]>;
}

export function featuresOf(v: PolicyVocabulary | undefined): Features {
  const f: Features = { servers: [], tools: new Map(), prompts: new Map(), claims: [], resources: new Map(), args: new Map() };
  const claims = new Set<string>();
  const arg = (name: string, owner: string) => {
    const owners = f.args.get(name) ?? [];
    if (!owners.includes(owner)) owners.push(owner);
    f.args.set(name, owners);
  };
  for (const s of v?.servers ?? []) {
    f.servers.push(s.name);
    for (const t of s.tools) {
      const known = f.tools.get(t.name);
      if (known) known.servers.push(s.name);
      else f.tools.set(t.name, { servers: [s.name], arguments: t.arguments, hints: t.hints });
      for (const a of t.arguments) arg(a, `tool ${t.name}`);
    }
    for (const p of s.prompts) {
      const known = f.prompts.get(p.name);
      if (known) known.servers.push(s.name);
      else f.prompts.set(p.name, { servers: [s.name], arguments: p.arguments });
      for (const a of p.arguments) arg(a, `prompt ${p.name}`);
    }
    for (const c of s.claims) claims.add(c);
    for (const r of s.resources) {
      const known = f.resources.get(r.uri);
      if (known) known.servers.push(s.name);
      else f.resources.set(r.uri, { servers: [s.name], name: r.name });
    }
  }
  f.claims = [...claims].sort();
  return f;
}

/** Attributes of the caller: the claims callers carried (or the common ones), as `claim_<name>`. */
export function claimTerms(f: Features): Term[] {
  const seen = new Set(f.claims);
  const names = [...new Set([...f.claims, ...COMMON_CLAIMS])];
  return names.map((c) => ({
    label: `claim_${c}`,
    detail: seen.has(c) ? 'claim callers carried' : 'claim',
    help: `The caller's \`${c}\` claim. ${seen.has(c) ? 'Tokens of callers of the attached servers carried it.' : 'Not seen on a caller of the attached servers yet: a token without it makes a read error, so test with `has` first.'}`,
  }));
}

/** `arg_<name>` for every argument the attached servers' tools and prompts declare. */
export function argumentTerms(f: Features): Term[] {
  return [...f.args.entries()].map(([name, owners]) => ({
    label: `arg_${name}`,
    detail: owners.length === 1 ? owners[0]! : `${owners.length} tools and prompts`,
    help: `The call's argument \`${name}\` (of ${owners.slice(0, 4).join(', ')}${owners.length > 4 ? ', ...' : ''}). A string, boolean or number; an object or array only as \`arg_${name}_present\`.`,
  }));
}

export function toolTerms(f: Features): Term[] {
  return [...f.tools.entries()].map(([name, t]) => ({
    label: name,
    detail: `tool of ${t.servers.join(', ')}`,
    help: `${t.arguments.length ? `Arguments: ${t.arguments.map((a) => `\`arg_${a}\``).join(', ')}.` : 'No arguments.'}${Object.keys(t.hints).length ? ` Annotations: ${Object.entries(t.hints).map(([k, v]) => `${k} ${v}`).join(', ')}.` : ''}`,
  }));
}

export function promptTerms(f: Features): Term[] {
  return [...f.prompts.entries()].map(([name, p]) => ({
    label: name,
    detail: `prompt of ${p.servers.join(', ')}`,
    help: p.arguments.length ? `Arguments: ${p.arguments.map((a) => `\`arg_${a}\``).join(', ')}.` : 'No arguments.',
  }));
}

export function serverTerms(f: Features): Term[] {
  return f.servers.map((s) => ({ label: s, detail: 'server', help: `Everything of ${s}: \`resource in MCP::"${s}"\`.` }));
}

export function resourceTerms(f: Features): Term[] {
  return [...f.resources.entries()].map(([uri, r]) => ({ label: uri, detail: `resource of ${r.servers.join(', ')}`, help: `${r.name ? `${r.name}. ` : ''}A resources/read of it is \`read_resource\` on \`Resource::"${uri}"\`; \`resource.uri like "…*"\` matches many.` }));
}
