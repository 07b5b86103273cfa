import { describe, expect, it } from 'vitest';
import type { JsonRpcMessage, JsonRpcRequest } from '../../src/mcp/index.js';
import { StdioMultiplexer } from '../../src/proxy/stdio/multiplexer.js';

/**
 * The multiplexer against a scripted in-memory server (speed and determinism); the same paths run against
 * the real server-everything in test/integration/proxy-stdio.test.ts.
 */
function setup(timeoutMs = 1000) {
  const toServer: JsonRpcMessage[] = [];
  const mux = new StdioMultiplexer({ upstream: { send: (m) => toServer.push(m) }, requestTimeoutMs: timeoutMs });
  const init = mux.initializeUpstream(undefined, 1000);
  const initReq = toServer.shift() as JsonRpcRequest;
  mux.onUpstreamMessage({ jsonrpc: '2.0', id: initReq.id, result: { protocolVersion: '2025-11-25', capabilities: { tools: {}, resources: { subscribe: true } }, serverInfo: { name: 's', version: '1' } } });
  const open = (caps: Record<string, unknown> = {}) => {
    const got: { m: JsonRpcMessage; rel?: string | number }[] = [];
    const ended: string[] = [];
    const s = mux.openSession({ deliver: (m, rel) => got.push({ m, rel }), terminate: (r) => ended.push(r) });
    s.handle({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: caps, clientInfo: { name: 'c', version: '1' } } });
    got.length = 0;
    return { s, got, ended };
  };
  return { mux, toServer, init, open };
}

const lastTo = (arr: JsonRpcMessage[]) => arr.at(-1) as JsonRpcRequest;

describe('stdio multiplexer', () => {
  it('initializes the server once and answers each client from that, in the client\'s protocol version', async () => {
    const { toServer, init, open } = setup();
    await init;
    expect(toServer.map((m) => ('method' in m ? m.method : ''))).toEqual(['notifications/initialized']);
    const a = open();
    a.s.handle({ jsonrpc: '2.0', id: 9, method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {} } });
    const b = open();
    b.s.handle({ jsonrpc: '2.0', id: 9, method: 'initialize', params: { protocolVersion: '1999-01-01', capabilities: {} } });
    expect(a.got[0]?.m).toMatchObject({ id: 9, result: { protocolVersion: '2025-03-26', serverInfo: { name: 's' } } });
    expect(b.got[0]?.m).toMatchObject({ id: 9, result: { protocolVersion: '2025-11-25' } });
    expect(toServer.filter((m) => 'method' in m && m.method === 'initialize')).toEqual([]);
  });

  it('rewrites ids so two sessions using the same id each get their own reply', async () => {
    const { mux, toServer, init, open } = setup();
    await init;
    const a = open();
    const b = open();
    a.s.handle({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x' } });
    const upA = lastTo(toServer);
    b.s.handle({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'y' } });
    const upB = lastTo(toServer);
    expect(upA.id).not.toBe(upB.id);
    expect(upA.params).toEqual({ name: 'x' });
    // Answer in reverse order.
    mux.onUpstreamMessage({ jsonrpc: '2.0', id: upB.id, result: { who: 'b' } });
    mux.onUpstreamMessage({ jsonrpc: '2.0', id: upA.id, result: { who: 'a' } });
    expect(a.got).toEqual([{ m: { jsonrpc: '2.0', id: 1, result: { who: 'a' } }, rel: 1 }]);
    expect(b.got).toEqual([{ m: { jsonrpc: '2.0', id: 1, result: { who: 'b' } }, rel: 1 }]);
  });

  it('rewrites progress tokens and routes progress to the asking session only', async () => {
    const { mux, toServer, init, open } = setup();
    await init;
    const a = open();
    const b = open();
    a.s.handle({ jsonrpc: '2.0', id: 'r', method: 'tools/call', params: { name: 'slow', _meta: { progressToken: 7 } } });
    const up = lastTo(toServer);
    const token = (up.params?.['_meta'] as { progressToken: string }).progressToken;
    expect(token).not.toBe(7);
    mux.onUpstreamMessage({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: token, progress: 1 } });
    expect(a.got).toEqual([{ m: { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 7, progress: 1 } }, rel: 'r' }]);
    expect(b.got).toEqual([]);
  });

  it('forwards cancellation with the rewritten id and drops the late reply', async () => {
    const { mux, toServer, init, open } = setup();
    await init;
    const a = open();
    a.s.handle({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: {} });
    const up = lastTo(toServer);
    a.s.handle({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 5, reason: 'user' } });
    expect(lastTo(toServer)).toMatchObject({ method: 'notifications/cancelled', params: { requestId: up.id } });
    mux.onUpstreamMessage({ jsonrpc: '2.0', id: up.id, result: {} });
    expect(a.got).toEqual([]);
    expect(mux.pendingCount).toBe(0);
  });

  it('routes a server request to the session with a request in flight that declared the capability, and its answer back', async () => {
    const { mux, toServer, init, open } = setup();
    await init;
    const idle = open({ sampling: {} });
    const busyNoCap = open();
    const busy = open({ sampling: {} });
    busyNoCap.s.handle({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: {} });
    busy.s.handle({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: {} });
    mux.onUpstreamMessage({ jsonrpc: '2.0', id: 'srv-1', method: 'sampling/createMessage', params: {} });
    expect(busy.got).toEqual([{ m: { jsonrpc: '2.0', id: 'srv-1', method: 'sampling/createMessage', params: {} }, rel: 2 }]);
    expect(idle.got).toEqual([]);
    expect(busyNoCap.got).toEqual([]);
    // Another session cannot answer it.
    idle.s.handle({ jsonrpc: '2.0', id: 'srv-1', result: { forged: true } });
    expect(toServer.some((m) => 'result' in m && (m.result as { forged?: boolean }).forged)).toBe(false);
    busy.s.handle({ jsonrpc: '2.0', id: 'srv-1', result: { ok: true } });
    expect(lastTo(toServer)).toMatchObject({ id: 'srv-1', result: { ok: true } });
  });

  it('refuses server requests nobody can answer, and answers server pings itself', async () => {
    const { mux, toServer, init, open } = setup();
    await init;
    open();
    mux.onUpstreamMessage({ jsonrpc: '2.0', id: 3, method: 'elicitation/create', params: {} });
    expect(lastTo(toServer)).toMatchObject({ id: 3, error: { code: -32601 } });
    mux.onUpstreamMessage({ jsonrpc: '2.0', id: 4, method: 'ping' });
    expect(lastTo(toServer)).toEqual({ jsonrpc: '2.0', id: 4, result: {} });
    mux.onUpstreamMessage({ jsonrpc: '2.0', id: 5, method: 'roots/list' });
    expect(lastTo(toServer)).toEqual({ jsonrpc: '2.0', id: 5, result: { roots: [] } });
  });

  it('shares one upstream subscription per resource and delivers updates to subscribers only', async () => {
    const { mux, toServer, init, open } = setup();
    await init;
    const a = open();
    const b = open();
    const c = open();
    a.s.handle({ jsonrpc: '2.0', id: 1, method: 'resources/subscribe', params: { uri: 'r://1' } });
    const sub = lastTo(toServer);
    mux.onUpstreamMessage({ jsonrpc: '2.0', id: sub.id, result: {} });
    const before = toServer.length;
    b.s.handle({ jsonrpc: '2.0', id: 1, method: 'resources/subscribe', params: { uri: 'r://1' } });
    expect(toServer.length).toBe(before);
    expect(b.got[0]?.m).toEqual({ jsonrpc: '2.0', id: 1, result: {} });
    mux.onUpstreamMessage({ jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: 'r://1' } });
    expect(a.got.filter((g) => 'method' in g.m)).toHaveLength(1);
    expect(b.got.filter((g) => 'method' in g.m)).toHaveLength(1);
    expect(c.got).toEqual([]);
    a.s.close();
    expect(toServer.length).toBe(before); // b still subscribed
    b.s.close();
    expect(lastTo(toServer)).toMatchObject({ method: 'resources/unsubscribe', params: { uri: 'r://1' } });
  });

  it('broadcasts list changes and log messages to every session', async () => {
    const { mux, init, open } = setup();
    await init;
    const a = open();
    const b = open();
    mux.onUpstreamMessage({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
    expect(a.got).toHaveLength(1);
    expect(b.got).toHaveLength(1);
  });

  it('times out a request the server never answers, and cancels it upstream', async () => {
    const { mux, toServer, init, open } = setup(50);
    await init;
    const a = open();
    a.s.handle({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: {} });
    const up = lastTo(toServer);
    await new Promise((r) => setTimeout(r, 120));
    expect(a.got[0]?.m).toMatchObject({ id: 1, error: { code: -32001 } });
    expect(lastTo(toServer)).toMatchObject({ method: 'notifications/cancelled', params: { requestId: up.id } });
    expect(mux.pendingCount).toBe(0);
  });

  it('fails every waiting request and ends every session when the server goes away', async () => {
    const { mux, init, open } = setup();
    await init;
    const a = open();
    a.s.handle({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: {} });
    mux.onUpstreamClosed('container exited');
    expect(a.got[0]?.m).toMatchObject({ id: 1, error: { code: -32000, message: 'container exited' } });
    expect(a.ended).toEqual(['container exited']);
    const b = open();
    b.s.handle({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    expect(b.got[0]?.m).toMatchObject({ id: 2, error: { code: -32002 } });
  });

  it('uses the stored initialize result when the server refuses a second initialize', async () => {
    const toServer: JsonRpcMessage[] = [];
    const mux = new StdioMultiplexer({ upstream: { send: (m) => toServer.push(m) } });
    const stored = { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'old', version: '1' } };
    const p = mux.initializeUpstream(stored, 1000);
    const req = toServer[0] as JsonRpcRequest;
    mux.onUpstreamMessage({ jsonrpc: '2.0', id: req.id, error: { code: -32600, message: 'already initialized' } });
    expect(await p).toBe(stored);
  });
});
