// Summarizes a V8 .cpuprofile (node --cpu-prof): self time by function and by code area, so a
// profile answers "where does the time go" without opening DevTools.
import fs from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Which part of the stack a frame belongs to (the buckets a reader of the proxy cares about). */
export function area(url: string, fn: string): string {
  if (url === '') {
    if (fn === '(garbage collector)') return 'GC';
    if (fn === '(idle)' || fn === '(program)') return fn;
    return 'native / V8 builtins';
  }
  if (url.includes('/src/proxy/')) return 'gatehouse src/proxy';
  if (url.includes('/src/')) return 'gatehouse src (other)';
  if (url.includes('@hono/node-server')) return '@hono/node-server (Node ↔ Web Request/Response)';
  if (url.includes('@modelcontextprotocol/sdk')) {
    if (url.includes('/server/webStandardStreamableHttp')) return 'MCP SDK: web-standard streamable HTTP transport';
    if (url.includes('/server/')) return 'MCP SDK: server (other)';
    if (url.includes('/types.js')) return 'MCP SDK: types (zod schemas)';
    return 'MCP SDK: other';
  }
  if (url.includes('/zod/')) return 'zod';
  if (url.includes('node_modules/')) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    return m ? `npm: ${m[1]}` : 'npm: other';
  }
  if (url.startsWith('node:internal/deps/undici') || url.includes('undici')) return 'node: undici / fetch / web streams';
  if (url.startsWith('node:internal/webstreams')) return 'node: web streams';
  if (url.startsWith('node:_http') || url.startsWith('node:http')) return 'node: http';
  if (url.startsWith('node:net') || url.startsWith('node:internal/stream_base') || url.startsWith('node:internal/net')) return 'node: net / sockets';
  if (url.startsWith('node:internal/streams') || url.startsWith('node:stream')) return 'node: streams';
  if (url.startsWith('node:internal/process') || url.startsWith('node:internal/timers') || url.startsWith('node:timers')) return 'node: event loop, timers, ticks';
  if (url.startsWith('node:')) return 'node: other';
  return 'other';
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  busyMs: number;
  areas: { name: string; ms: number; share: number }[];
  functions: { name: string; ms: number; share: number }[];
}

export function summarizeProfile(file: string, top = 25): ProfileSummary {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  }
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, msSelf] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    total += msSelf;
    const a = area(url, functionName);
    if (a === '(idle)') {
      idle += msSelf;
      continue;
    }
    areas.set(a, (areas.get(a) ?? 0) + msSelf);
    const short = url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(dist-bench|dist)\//, '');
    const key = `${functionName || '(anonymous)'}  ${short}${url ? `:${lineNumber + 1}` : ''}`;
    fns.set(key, (fns.get(key) ?? 0) + msSelf);
  }
  const busy = total - idle;
  const sorted = (m: Map<string, number>) =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).map(([name, ms]) => ({ name, ms, share: ms / busy }));
  return { file, totalMs: total, busyMs: busy, areas: sorted(areas), functions: sorted(fns).slice(0, top) };
}

export function renderProfile(s: ProfileSummary): string {
  const pct = (v: number) => `${(v * 100).toFixed(1).padStart(5)} %`;
  return [
    `${s.file}: ${Math.round(s.busyMs)} ms busy of ${Math.round(s.totalMs)} ms sampled`,
    '  self time by area:',
    ...s.areas.map((a) => `    ${pct(a.share)}  ${a.name}`),
    '  top functions (self time):',
    ...s.functions.map((f) => `    ${pct(f.share)}  ${f.name}`),
  ].join('\n');
}
