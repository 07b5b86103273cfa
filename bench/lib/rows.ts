// The paths measured: each row starts what it needs, connects a first SDK client session as soon as
// it can (start-to-first-initialize), hands out more sessions, and stops everything it started.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { connectHttp, connectStdio, connectWhenReady, type Session } from './load.js';
import { BENCH_OUT, binEntry, everythingEntry, packageVersion } from './paths.js';
import { freePort, listeningAddresses, type ProcessRegistry, type Managed } from './procs.js';

export interface RowContext {
  reg: ProcessRegistry;
  runLabel: string;
  /** Where `node --cpu-prof` writes profiles of the proxy processes, when profiling. */
  profileDir?: string;
  round: number;
  containerImage: string;
}

export interface Running {
  first: Session;
  startToInitMs: number;
  /** A new client session (HTTP rows). */
  connect(): Promise<Session>;
  /** stdio: one session only, so concurrency means concurrent calls on the first session. */
  sharedSession: boolean;
  /** The process that does the proxying (CPU per call), if the row has one. */
  proxyPid?: number;
  /** Roots of the process trees that serve this row (memory, CPU). */
  roots: number[];
  stop(): Promise<void>;
}

export interface RowSpec {
  id: string;
  label: string;
  /** Which direct row is this path's baseline ("added over the direct path"). */
  directBaseline?: 'stdio' | 'http';
  /** What the memory/CPU columns cover when it is not the whole picture. */
  note?: string;
  available?(ctx: RowContext): Promise<string | undefined>;
  start(ctx: RowContext): Promise<Running>;
}

const NODE = process.execPath;
const LOOPBACK = path.join(BENCH_OUT, 'loopback.js');
const GATEHOUSE_HOST = path.join(BENCH_OUT, 'hosts', 'gatehouse-host.js');
const CORE_HOST = path.join(BENCH_OUT, 'hosts', 'core-host.js');
const HTTP_FLOOR = path.join(BENCH_OUT, 'hosts', 'http-floor.js');
const HTTP_RELAY = path.join(BENCH_OUT, 'hosts', 'http-relay.js');
const START_TIMEOUT_MS = 30_000;

function profileArgs(ctx: RowContext, id: string): string[] {
  return ctx.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${ctx.profileDir}`, `--cpu-prof-name=${id}-round${ctx.round + 1}.cpuprofile`] : [];
}

function failureText(...procs: Managed[]): string {
  return procs
    .map((m) => {
      const state = m.child.exitCode !== null || m.child.signalCode !== null ? `exited (${m.child.exitCode ?? m.child.signalCode})` : 'running';
      return `--- ${m.name} (pid ${m.pid}, ${state}) output:\n${m.output().trim() || '(none)'}`;
    })
    .join('\n');
}

/** The benchmark only ever listens on loopback: refuse a row whose server listens more widely. */
function assertLoopbackOnly(port: number, what: string): void {
  const addrs = listeningAddresses(port);
  const wide = addrs.filter((a) => a !== '127.0.0.1' && a !== '::ffff:127.0.0.1' && a !== '::1');
  if (wide.length > 0) throw new Error(`${what} listens on ${wide.join(', ')}:${port}, not only on loopback`);
}

/** Starts processes, waits for the first initialize at baseUrl, checks the port is loopback-only. */
async function startHttp(
  ctx: RowContext,
  t0: number,
  procs: Managed[],
  port: number,
  proxyPid: number | undefined,
  timeoutMs = START_TIMEOUT_MS,
): Promise<Running> {
  const baseUrl = `http://127.0.0.1:${port}`;
  const stop = async () => {
    for (const m of [...procs].reverse()) await ctx.reg.stop(m.pid);
  };
  try {
    const first = await connectWhenReady(() => connectHttp(baseUrl), timeoutMs, () => failureText(...procs));
    const startToInitMs = performance.now() - t0;
    assertLoopbackOnly(port, procs[procs.length - 1]!.name);
    const running: Running = { first, startToInitMs, connect: () => connectHttp(baseUrl), sharedSession: false, roots: procs.map((m) => m.pid), stop };
    if (proxyPid !== undefined) running.proxyPid = proxyPid;
    return running;
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The whole product as `gatehouse serve` runs it, a real container behind its proxy; with `policy`, a policy set attached. */
function containerRow(id: string, label: string, mode?: 'policy'): RowSpec {
  return {
    id,
    label,
    directBaseline: 'stdio',
    note: "memory and CPU count the core and the container's processes, not dockerd and containerd-shim relaying stdio",
    async available(ctx) {
      try {
        const docker = process.env['DOCKER_HOST'] ? new Docker() : new Docker({ socketPath: '/var/run/docker.sock' });
        await docker.ping();
        await docker.getImage(ctx.containerImage).inspect();
        return undefined;
      } catch (err) {
        return `no Docker engine or no image ${ctx.containerImage} (${(err as Error).message.split('\n')[0]}); build it with: bash test/images/build.sh`;
      }
    },
    async start(ctx) {
      const port = await freePort();
      const t0 = performance.now();
      const host = ctx.reg.spawn(
        'gatehouse core',
        NODE,
        [...profileArgs(ctx, id), CORE_HOST, String(port), ctx.runLabel, ctx.containerImage, ...(mode ? [mode] : [])],
        { captureStdout: true },
      );
      const running = await startHttp(ctx, t0, [host], port, host.pid, 90_000);
      // The core host names the container's init process once the server runs: count it as serving too.
      const deadline = Date.now() + 10_000;
      for (;;) {
        const m = /"containerPid":(\d+)/.exec(host.output());
        if (m) {
          running.roots.push(Number(m[1]));
          break;
        }
        if (Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      if (mode !== 'policy') return running;
      // The recording measured must have happened: the host counts the kept decisions as it stops.
      const stop = running.stop;
      running.stop = async () => {
        await stop();
        const m = /"decisionsKept":(\d+)(?:,"error":"([^"]*)")?/.exec(host.output());
        if (!m || Number(m[1]) === 0) throw new Error(`${id}: the core kept no decisions${m?.[2] ? ` (${m[2]})` : ''}; is a keychain unlocked (the data key seals them)?`);
      };
      return running;
    },
  };
}

export const ROWS: readonly RowSpec[] = [
  {
    id: 'direct-stdio',
    label: 'SDK client → server over stdio (the floor)',
    async start(ctx) {
      const t0 = performance.now();
      const s = await connectStdio(NODE, [everythingEntry(), 'stdio']);
      const startToInitMs = performance.now() - t0;
      const pid = s.pid ?? -1;
      ctx.reg.adopt('server-everything (stdio)', pid);
      return {
        first: s,
        startToInitMs,
        connect: () => Promise.reject(new Error('one session per stdio server')),
        sharedSession: true,
        roots: [pid],
        stop: async () => {
          await s.close();
          await ctx.reg.stop(pid);
        },
      };
    },
  },
  {
    id: 'direct-http',
    label: "server-everything's own Streamable HTTP",
    async start(ctx) {
      const port = await freePort();
      const t0 = performance.now();
      const server = ctx.reg.spawn('server-everything (streamableHttp)', NODE, ['--import', LOOPBACK, everythingEntry(), 'streamableHttp'], {
        env: { ...process.env, PORT: String(port) },
      });
      return startHttp(ctx, t0, [server], port, undefined);
    },
  },
  {
    id: 'http-floor',
    label: 'bare node:http echo responder, no MCP server (the HTTP floor)',
    async start(ctx) {
      const port = await freePort();
      const t0 = performance.now();
      const floor = ctx.reg.spawn('http floor', NODE, [HTTP_FLOOR, String(port)]);
      return startHttp(ctx, t0, [floor], port, undefined);
    },
  },
  {
    id: 'gatehouse-stdio',
    label: 'Gatehouse proxy, stdio server (local child)',
    directBaseline: 'stdio',
    async start(ctx) {
      const port = await freePort();
      const t0 = performance.now();
      const host = ctx.reg.spawn('gatehouse proxy (stdio)', NODE, [...profileArgs(ctx, 'gatehouse-stdio'), GATEHOUSE_HOST, 'stdio', String(port)], {
        captureStdout: true,
      });
      return startHttp(ctx, t0, [host], port, host.pid);
    },
  },
  {
    id: 'gatehouse-http',
    label: 'Gatehouse proxy, streamable-http server (reverse proxy)',
    directBaseline: 'http',
    async start(ctx) {
      const target = await freePort();
      const port = await freePort();
      const t0 = performance.now();
      const server = ctx.reg.spawn('server-everything (streamableHttp)', NODE, ['--import', LOOPBACK, everythingEntry(), 'streamableHttp'], {
        env: { ...process.env, PORT: String(target) },
      });
      const host = ctx.reg.spawn(
        'gatehouse proxy (reverse)',
        NODE,
        [...profileArgs(ctx, 'gatehouse-http'), GATEHOUSE_HOST, 'reverse', String(port), String(target)],
        { captureStdout: true },
      );
      const running = await startHttp(ctx, t0, [server, host], port, host.pid);
      assertLoopbackOnly(target, server.name);
      return running;
    },
  },
  {
    id: 'http-relay',
    label: 'bare node:http relay, streamable-http server (the least an HTTP hop costs)',
    directBaseline: 'http',
    async start(ctx) {
      const target = await freePort();
      const port = await freePort();
      const t0 = performance.now();
      const server = ctx.reg.spawn('server-everything (streamableHttp)', NODE, ['--import', LOOPBACK, everythingEntry(), 'streamableHttp'], {
        env: { ...process.env, PORT: String(target) },
      });
      const relay = ctx.reg.spawn('http relay', NODE, [...profileArgs(ctx, 'http-relay'), HTTP_RELAY, String(port), String(target)], { captureStdout: true });
      const running = await startHttp(ctx, t0, [server, relay], port, relay.pid);
      assertLoopbackOnly(target, server.name);
      return running;
    },
  },
  containerRow('gatehouse-container', 'Gatehouse core + real container (stdio, docker)'),
  containerRow('gatehouse-container-policy', 'Gatehouse core + real container, with a policy set (each call decided, decision kept sealed)', 'policy'),
  {
    id: 'mcp-proxy',
    label: `mcp-proxy ${packageVersion('mcp-proxy')} (stateful, one shared stdio child)`,
    directBaseline: 'stdio',
    async start(ctx) {
      const port = await freePort();
      const t0 = performance.now();
      const proxy = ctx.reg.spawn(
        'mcp-proxy',
        NODE,
        [
          ...profileArgs(ctx, 'mcp-proxy'),
          binEntry('mcp-proxy', 'mcp-proxy'),
          '--host', '127.0.0.1',
          '--port', String(port),
          '--server', 'stream',
          // Shutdown only: lets it exit (and write a --cpu-prof profile) within the stop grace period.
          '--gracefulShutdownTimeout', '1000',
          '--',
          NODE, everythingEntry(), 'stdio',
        ],
        { captureStdout: true },
      );
      return startHttp(ctx, t0, [proxy], port, proxy.pid);
    },
  },
  {
    id: 'supergateway',
    label: `supergateway ${packageVersion('supergateway')} --stateful (one child per session)`,
    directBaseline: 'stdio',
    async start(ctx) {
      const port = await freePort();
      const t0 = performance.now();
      const gw = ctx.reg.spawn(
        'supergateway',
        NODE,
        [
          ...profileArgs(ctx, 'supergateway'),
          '--import', LOOPBACK,
          binEntry('supergateway', 'supergateway'),
          '--stdio', `"${NODE}" "${everythingEntry()}" stdio`,
          '--outputTransport', 'streamableHttp',
          '--stateful',
          '--port', String(port),
          '--logLevel', 'none',
        ],
        { captureStdout: true },
      );
      return startHttp(ctx, t0, [gw], port, gw.pid);
    },
  },
];
