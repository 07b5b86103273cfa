// What a server's lists said (tool annotations, argument names) outlives a policy edit, and feeds
// `policy check`. Uses a real SQLite store; the authorizers are the ones the proxy uses.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuthzManager } from '../../src/app/authz-manager.js';
import type { McpAuthorizer } from '../../src/authz/authorizer.js';
import { principalOf } from '../../src/authz/entities.js';
import { ToolKnowledge } from '../../src/authz/tool-knowledge.js';
import { openStore, type Store } from '../../src/store/index.js';
import { newServer } from '../support/server-record.js';

const tools = [
  { name: 'rm', annotations: { destructiveHint: true }, inputSchema: { type: 'object', properties: { path: { type: 'string' }, recursive: { type: 'boolean' } } } },
  { name: 'ls', annotations: { readOnlyHint: true }, inputSchema: { type: 'object', properties: { path: { type: 'string' } } } },
];
const prompts = [{ name: 'review', arguments: [{ name: 'diff', required: true }, { name: 'tone' }] }];

const config = (policies: string[]) => ({ version: '1.0', type: 'cedarv1', cedar: { policies, entities_json: '[]' } });
const NO_DESTRUCTIVE = [
  'permit(principal, action == Action::"call_tool", resource);',
  'forbid(principal, action == Action::"call_tool", resource) when { resource has destructiveHint && resource.destructiveHint };',
];

describe('ToolKnowledge', () => {
  it('saves only names and boolean hints, says when a list changed it, and restores what it saved', () => {
    const k = new ToolKnowledge();
    let changes = 0;
    k.onChange = () => changes++;
    k.learnTools([{ ...tools[0]!, annotations: { ...tools[0]!.annotations, title: 'Remove files', readOnlyHint: 'no' } }, tools[1]!]);
    k.learnPrompts(prompts);
    expect(changes).toBe(2);
    k.learnTools([{ ...tools[0]!, description: 'changed text only' }, tools[1]!]);
    expect(changes).toBe(2); // nothing a policy reads changed: nothing to save
    k.learnTools([{ ...tools[0]!, annotations: { destructiveHint: false } }]);
    expect(changes).toBe(3);
    const saved = k.snapshot();
    expect(saved).toEqual({
      tools: [
        { name: 'rm', hints: { destructiveHint: false }, arguments: ['path', 'recursive'] },
        { name: 'ls', hints: { readOnlyHint: true }, arguments: ['path'] },
      ],
      prompts: [{ name: 'review', arguments: ['diff', 'tone'] }],
    });
    const back = ToolKnowledge.restore(JSON.parse(JSON.stringify(saved)));
    expect(back.snapshot()).toEqual(saved);
    expect(back.annotationsOf('rm')).toEqual({ destructiveHint: false });
    expect(ToolKnowledge.restore({ tools: 'nope' }).snapshot()).toEqual({ tools: [], prompts: [] });
  });

  it("keeps the names (never the values) of callers' claims, once each, for the policy editor", () => {
    const k = new ToolKnowledge();
    let changes = 0;
    k.onChange = () => changes++;
    k.learnTools(tools);
    k.learnClaims(['sub', 'email', 'roles']);
    k.learnClaims(['sub', 'roles']);
    expect(changes).toBe(2);
    k.learnClaims(Array.from({ length: 400 }, (_, i) => `c${i}`));
    const back = ToolKnowledge.restore(JSON.parse(JSON.stringify(k.snapshot())));
    const v = back.vocabulary();
    expect(v.claims.slice(0, 3)).toEqual(['sub', 'email', 'roles']);
    expect(v.claims).toHaveLength(256);
    expect(v.tools).toEqual([
      { name: 'rm', arguments: ['path', 'recursive'], hints: { destructiveHint: true } },
      { name: 'ls', arguments: ['path'], hints: { readOnlyHint: true } },
    ]);
    k.learnResources([{ uri: 'file:///notes.txt', name: 'Notes' }, { uri: 42 }, { uri: 'file:///b.txt' }]);
    expect(ToolKnowledge.restore(JSON.parse(JSON.stringify(k.snapshot()))).vocabulary().resources).toEqual([
      { uri: 'file:///notes.txt', name: 'Notes' },
      { uri: 'file:///b.txt', name: '' },
    ]);
    // A snapshot saved before claims were kept still reads.
    expect(ToolKnowledge.restore({ tools: [], prompts: [] }).vocabulary().claims).toEqual([]);
  });

  it('learns annotations and argument names from list items, and forgets annotations a tool no longer has', () => {
    const k = new ToolKnowledge();
    expect(k.knownArguments()).toEqual({});
    k.learnTools(tools);
    k.learnPrompts(prompts);
    expect(k.annotationsOf('rm')).toEqual({ destructiveHint: true });
    expect(k.knownArguments()).toMatchObject({ toolArgs: new Set(['path', 'recursive']), promptArgs: new Set(['diff', 'tone']) });
    expect([...k.knownArguments().tools!.keys()].sort()).toEqual(tools.map((t) => t.name).sort());
    k.learnTools([{ name: 'rm', inputSchema: { type: 'object', properties: { path: {} } } }]);
    expect(k.annotationsOf('rm')).toBeUndefined();
    expect(k.knownArguments().toolArgs).toEqual(new Set(['path']));
  });

  it('ignores malformed items and bounds what a server can make it keep', () => {
    const k = new ToolKnowledge();
    k.learnTools([{ name: 7 }, { name: 'x', annotations: [true], inputSchema: { properties: ['a'] } }, { name: 'y', inputSchema: 'nope' }]);
    expect(k.annotationsOf('x')).toBeUndefined();
    expect(k.knownArguments().toolArgs).toEqual(new Set());
    k.learnTools([{ name: 'wide', inputSchema: { properties: Object.fromEntries(Array.from({ length: 300 }, (_, j) => [`a${j}`, {}])) } }]);
    expect(k.knownArguments().toolArgs!.size).toBe(256);
    k.learnTools(Array.from({ length: 30_000 }, (_, i) => ({ name: `t${i}`, annotations: { readOnlyHint: true } })));
    expect(k.annotationsOf('t0')).toBeUndefined();
    expect(k.annotationsOf('t29999')).toEqual({ readOnlyHint: true });
  });
});

describe('AuthzManager and what servers said', () => {
  let root: string;
  let store: Store;
  let manager: AuthzManager;
  const alice = principalOf({ sub: 'alice' }, { policies: [] })!;

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-knowledge-'));
    store = openStore(path.join(root, 'gatehouse.db'));
    store.servers.insert(newServer('files', { proxyPort: 40111 }));
    manager = new AuthzManager(store, () => {});
  });

  afterEach(() => {
    store.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  const authorizer = () => manager.state('files') as McpAuthorizer;

  it('keeps tool annotations across a policy edit, so a forbid on destructiveHint never opens up', () => {
    manager.save('guard', config(NO_DESTRUCTIVE));
    manager.attach('files', 'guard');
    authorizer().learn('tool', tools);
    // A client calls rm by name, without listing tools again: the annotation comes from what was learned.
    expect(authorizer().decide(alice, { feature: 'tool', name: 'rm', arguments: {} }).allowed).toBe(false);

    manager.save('guard', config([...NO_DESTRUCTIVE, 'permit(principal, action == Action::"get_prompt", resource);']));
    expect(authorizer().decide(alice, { feature: 'tool', name: 'rm', arguments: {} }).allowed).toBe(false);
    expect(authorizer().decide(alice, { feature: 'tool', name: 'ls', arguments: {} }).allowed).toBe(true);

    // Detach and attach again: the server is the same, so is what it said.
    manager.attach('files', null);
    manager.attach('files', 'guard');
    expect(authorizer().decide(alice, { feature: 'tool', name: 'rm', arguments: {} }).allowed).toBe(false);

    // A restarted core (a new manager over the same SQLite file) still knows, before any tools/list.
    const restarted = new AuthzManager(store, () => {});
    restarted.install({ name: 'files', policySet: 'guard' });
    const az = restarted.state('files') as McpAuthorizer;
    expect(az.decide(alice, { feature: 'tool', name: 'rm', arguments: {} }).allowed).toBe(false);
    expect(az.decide(alice, { feature: 'tool', name: 'ls', arguments: {} }).allowed).toBe(true);

    // Renamed, the server keeps what it said; removed, that goes with it.
    store.servers.rename('files', 'fs');
    restarted.install({ name: 'fs', policySet: 'guard' });
    expect((restarted.state('fs') as McpAuthorizer).decide(alice, { feature: 'tool', name: 'rm', arguments: {} }).allowed).toBe(false);
    restarted.drop('fs');
    store.servers.delete('fs');
    expect(store.serverFeatures.get('fs')).toBeUndefined();
  });

  it('saves a server whose list keeps changing at most once a second, and flushes on shutdown', () => {
    manager.save('guard', config(NO_DESTRUCTIVE));
    manager.attach('files', 'guard');
    const saved = () => (store.serverFeatures.get('files') as { tools: { name: string }[] } | undefined)?.tools.map((t) => t.name) ?? [];
    authorizer().learn('tool', [{ name: 'a' }]);
    expect(saved()).toEqual(['a']); // the first change is written at once
    authorizer().learn('tool', [{ name: 'b' }]);
    authorizer().learn('tool', [{ name: 'c' }]);
    expect(saved()).toEqual(['a']); // later ones wait for the interval...
    manager.flush();
    expect(saved()).toEqual(['a', 'b', 'c']); // ...or for a clean shutdown
  });

  it("checks arg_ reads against the arguments a server's tools declare", () => {
    const reads = config([
      'permit(principal, action == Action::"call_tool", resource == Tool::"rm") when { resource.arg_path == "/tmp" && resource.arg_recursiv == false };',
      'permit(principal, action == Action::"get_prompt", resource) when { resource.arg_tone == "kind" };',
    ]);
    const before = manager.check(reads, 'files');
    expect(before.warnings.map((w) => w.message)).toEqual([
      expect.stringMatching(/`arg_path` reads the tool argument "path", which is only known when a request arrives \(Gatehouse learns files's tools/),
      expect.stringMatching(/`arg_recursiv` reads the tool argument "recursiv"/),
      expect.stringMatching(/`arg_tone` reads the prompt argument "tone"/),
    ]);

    manager.save('guard', config(NO_DESTRUCTIVE));
    manager.attach('files', 'guard');
    authorizer().learn('tool', tools);
    authorizer().learn('prompt', prompts);
    const after = manager.check(reads, 'files');
    expect(after.ok).toBe(true);
    expect(after.warnings).toHaveLength(1);
    // The policy is about rm: judged by rm's own arguments, named.
    expect(after.warnings[0]!.message).toMatch(/`arg_recursiv` reads the argument "recursiv", but Tool::"rm" does not declare it \(its arguments: path, recursive\)/);
    expect(after.warnings[0]!.message).not.toContain('did you mean');

    // Saving checks against the attached servers too; the typo is a warning, so the edit is taken.
    const saved = manager.save('guard', reads);
    expect(saved.check.warnings.map((w) => w.policy)).toEqual([0]);
    expect(() => manager.check(reads, 'nope')).toThrow(/No server named "nope"/);
  });
});
