// The whole product in a process of its own, as `gatehouse serve` runs it: a core with its own
// GATEHOUSE_HOME (SQLite store and log sink, container runtime) that runs server-everything from the
// local test image in a real container (stdio, network none) behind its proxy.
//
//   node core-host.js <proxyPort> <runLabel> <image>
//
// Every container it makes carries the label gatehouse-bench.run=<runLabel>; on SIGTERM it stops the
// core and removes them (the benchmark sweeps the label again afterwards).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { connectApi } from '../../src/api/index.js';
import { startCore, type Core } from '../../src/app/index.js';
import { BENCH_RUN_LABEL } from '../lib/paths.js';

const [portArg, runLabel, image] = process.argv.slice(2);
if (!portArg || !runLabel || !image) {
  process.stderr.write('usage: core-host.js <proxyPort> <runLabel> <image>\n');
  process.exit(2);
}

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-'));
let core: Core | undefined;
let closing = false;

async function removeContainers(): Promise<void> {
  const docker = process.env['DOCKER_HOST'] ? new Docker() : new Docker({ socketPath: '/var/run/docker.sock' });
  const list = await docker.listContainers({ all: true, filters: { label: [`${BENCH_RUN_LABEL}=${runLabel}`] } });
  await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined)));
}

const shutdown = async (code: number) => {
  if (closing) return;
  closing = true;
  try {
    await core?.stop();
  } catch (err) {
    process.stderr.write(`core stop: ${(err as Error).message}\n`);
  }
  try {
    await removeContainers();
  } catch (err) {
    process.stderr.write(`container cleanup: ${(err as Error).message}\n`);
  }
  fs.rmSync(home, { recursive: true, force: true });
  process.exit(code);
};
process.on('SIGTERM', () => void shutdown(0));
process.on('SIGINT', () => void shutdown(0));

try {
  core = await startCore({
    home,
    pullPolicy: 'never',
    defaultNetwork: 'host',
    requestTimeoutMs: 30_000,
    extraLabels: { [BENCH_RUN_LABEL]: runLabel },
  });
  const api = connectApi(core.url, core.token);
  const s = await api.run({ image, name: 'everything', permissionProfile: 'none', proxyPort: Number(portArg) });
  // The container's init process, so the benchmark can count the server's CPU and memory too.
  const docker = process.env['DOCKER_HOST'] ? new Docker() : new Docker({ socketPath: '/var/run/docker.sock' });
  const containerPid = s.containerId ? (await docker.getContainer(s.containerId).inspect()).State.Pid : undefined;
  process.stdout.write(JSON.stringify({ url: new URL(s.url).origin, status: s.status, containerPid }) + '\n');
} catch (err) {
  process.stderr.write(`core host failed: ${(err as Error).stack ?? String(err)}\n`);
  await shutdown(1);
}
