// Child processes of the benchmark: started in their own process group, tracked with every descendant
// they spawn (supergateway puts each of its children in a new group), and always stopped at the end,
// even when the benchmark fails. Also reads CPU time and resident memory of a process tree from /proc.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat (100 on every Linux build that matters). */
const CLOCK_TICKS_PER_SECOND = 100;

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime in ms */
  cpuMs: number;
  /** start time in clock ticks since boot: with the pid it identifies a process (pids are reused). */
  startTicks: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): field n is rest[n - 3].
  const ppid = Number(rest[1]);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  const startTicks = Number(rest[19]);
  return { pid, ppid, cpuMs: ((utime + stime) * 1000) / CLOCK_TICKS_PER_SECOND, startTicks };
}

function allStats(): ProcStat[] {
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  const out: ProcStat[] = [];
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    const s = readStat(Number(n));
    if (s) out.push(s);
  }
  return out;
}

/** The process and all its living descendants (by parent pid), the process first. */
export function processTree(root: number): ProcStat[] {
  const stats = allStats();
  const byParent = new Map<number, ProcStat[]>();
  let rootStat: ProcStat | undefined;
  for (const s of stats) {
    if (s.pid === root) rootStat = s;
    const list = byParent.get(s.ppid);
    if (list) list.push(s);
    else byParent.set(s.ppid, [s]);
  }
  if (!rootStat) return [];
  const out: ProcStat[] = [];
  const queue: ProcStat[] = [rootStat];
  while (queue.length > 0) {
    const s = queue.shift()!;
    out.push(s);
    queue.push(...(byParent.get(s.pid) ?? []));
  }
  return out;
}

function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export interface TreeUsage {
  /** CPU time (user + system) of the focus process alone (the proxy), ms. */
  focusCpuMs: number;
  /** CPU time of the root and all living descendants, ms. */
  treeCpuMs: number;
  rssBytes: number;
  processes: number;
}

/** CPU and memory of the trees under the given roots (several roots: e.g. a proxy and the server it fronts). */
export function treeUsage(roots: readonly number[], focusPid?: number): TreeUsage | undefined {
  if (!fs.existsSync('/proc/self/stat')) return undefined;
  const u: TreeUsage = { focusCpuMs: 0, treeCpuMs: 0, rssBytes: 0, processes: 0 };
  roots.forEach((root) => {
    for (const s of processTree(root)) {
      if (s.pid === focusPid) u.focusCpuMs += s.cpuMs;
      u.treeCpuMs += s.cpuMs;
      u.rssBytes += rssBytes(s.pid);
      u.processes++;
    }
  });
  return u;
}

function alive(pid: number, startTicks: number): boolean {
  const s = readStat(pid);
  return s !== undefined && s.startTicks === startTicks;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

export interface Managed {
  name: string;
  child: ChildProcess;
  pid: number;
  /** Last few KB of stderr (and stdout when piped), for error messages. */
  output(): string;
  exited: Promise<void>;
}

interface Tracked {
  name: string;
  pid: number;
  startTicks: number;
  exited?: Promise<void>;
}

/** Every process the benchmark starts goes through here, so that every one of them is stopped. */
export class ProcessRegistry {
  private readonly tracked = new Map<number, Tracked>();
  /** Descendants seen while a tracked process ran, keyed by pid (they may have left its group). */
  private readonly descendants = new Map<number, number>();

  spawn(name: string, command: string, args: readonly string[], opts: SpawnOptions & { captureStdout?: boolean } = {}): Managed {
    const { captureStdout, ...spawnOpts } = opts;
    const child = spawn(command, args, {
      ...spawnOpts,
      detached: true, // its own process group: the group is signalled at stop
      stdio: ['ignore', captureStdout ? 'pipe' : 'ignore', 'pipe'],
    });
    if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
    let tail = '';
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString('utf8')).slice(-4096);
    };
    child.stderr?.on('data', keep);
    if (captureStdout) child.stdout?.on('data', keep);
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    const t: Tracked = { name, pid: child.pid, startTicks: readStat(child.pid)?.startTicks ?? -1, exited };
    this.tracked.set(child.pid, t);
    return { name, child, pid: child.pid, output: () => tail, exited };
  }

  /** Tracks a process started by someone else (the SDK's stdio client transport). */
  adopt(name: string, pid: number): void {
    this.tracked.set(pid, { name, pid, startTicks: readStat(pid)?.startTicks ?? -1 });
  }

  /** Remembers the current descendants of tracked processes (call while they run). */
  snapshot(): void {
    for (const t of this.tracked.values()) {
      for (const s of processTree(t.pid)) if (s.pid !== t.pid) this.descendants.set(s.pid, s.startTicks);
    }
  }

  /** SIGTERM to the process group, a grace period, then SIGKILL to whatever of the tree is left. */
  async stop(pid: number, graceMs = 8000): Promise<void> {
    const t = this.tracked.get(pid);
    if (!t) return;
    const tree = processTree(pid).filter((s) => s.pid !== pid);
    for (const s of tree) this.descendants.set(s.pid, s.startTicks);
    if (alive(t.pid, t.startTicks)) {
      signal(-t.pid, 'SIGTERM'); // the group (only spawned processes lead one)
      signal(t.pid, 'SIGTERM');
      const deadline = Date.now() + graceMs;
      while (alive(t.pid, t.startTicks) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      if (alive(t.pid, t.startTicks)) {
        if (process.env['BENCH_DEBUG']) process.stderr.write(`${t.name} (pid ${t.pid}) ignored SIGTERM for ${graceMs} ms: SIGKILL\n`);
        signal(-t.pid, 'SIGKILL');
        signal(t.pid, 'SIGKILL');
      }
    }
    if (t.exited) await Promise.race([t.exited, new Promise((r) => setTimeout(r, 1000))]);
    // Descendants in groups of their own (supergateway's children) get their own grace period.
    const deadline = Date.now() + graceMs;
    const left = () => tree.filter((s) => alive(s.pid, s.startTicks));
    while (left().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    for (const s of left()) signal(s.pid, 'SIGKILL');
    for (const s of tree) this.descendants.delete(s.pid);
    this.tracked.delete(pid);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.tracked.keys()].map((pid) => this.stop(pid, 2000)));
    this.killLeftovers();
  }

  /** Synchronous last resort (process exit, signals): SIGKILL everything still alive that we started. */
  killLeftovers(): void {
    for (const t of this.tracked.values()) {
      for (const s of processTree(t.pid)) signal(s.pid, 'SIGKILL');
      if (alive(t.pid, t.startTicks)) signal(-t.pid, 'SIGKILL');
    }
    for (const [pid, ticks] of this.descendants) if (alive(pid, ticks)) signal(pid, 'SIGKILL');
    this.tracked.clear();
    this.descendants.clear();
  }

  get count(): number {
    return this.tracked.size;
  }
}

/** A port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Local addresses with a listening TCP socket on the port (from /proc/net/tcp{,6}), e.g. ["127.0.0.1"]. */
export function listeningAddresses(port: number): string[] {
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || f[3] !== '0A') continue; // 0A = LISTEN
      const [addrHex, portHex] = (f[1] ?? '').split(':');
      if (!addrHex || parseInt(portHex ?? '', 16) !== port) continue;
      out.push(decodeAddress(addrHex));
    }
  }
  return out;
}

function decodeAddress(hex: string): string {
  if (hex.length === 8) {
    const b = Buffer.from(hex, 'hex').reverse();
    return [...b].join('.');
  }
  if (hex === '00000000000000000000000000000000') return '::';
  if (hex === '0000000000000000FFFF00000100007F') return '::ffff:127.0.0.1';
  if (hex === '00000000000000000000000001000000') return '::1';
  return hex;
}

function cpuLine(): number[] {
  try {
    const first = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    return first.trim().split(/\s+/).slice(1).map(Number);
  } catch {
    return [];
  }
}

/** CPU time the whole machine spent busy (user, nice, system, irq, softirq) since boot, ms over all cores. */
export function systemBusyMs(): number {
  const f = cpuLine();
  if (f.length < 7) return NaN;
  return (((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0)) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** CPU time the hypervisor gave to other guests while this machine wanted it (steal), ms over all cores. */
export function systemStealMs(): number {
  const f = cpuLine();
  return f.length >= 8 ? ((f[7] ?? 0) * 1000) / CLOCK_TICKS_PER_SECOND : NaN;
}

/**
 * Waits until the machine is quiet (other programs and CPU steal take less than `maxCores` over a 1 s sample),
 * at most `maxWaitMs`. Returns how long it waited and the last busy level (cores).
 */
export async function waitQuiet(maxCores: number, maxWaitMs: number): Promise<{ waitedMs: number; busyCores: number }> {
  const start = Date.now();
  for (;;) {
    const b0 = systemBusyMs() + (systemStealMs() || 0);
    await new Promise((r) => setTimeout(r, 1000));
    const busyCores = (systemBusyMs() + (systemStealMs() || 0) - b0) / 1000;
    if (!Number.isFinite(busyCores) || busyCores < maxCores || Date.now() - start >= maxWaitMs) {
      return { waitedMs: Date.now() - start, busyCores };
    }
  }
}
