// Test support for everything that needs the real Docker engine.
//
// Tests that need Docker call requireDocker() in a beforeAll hook. It never skips: when the engine or
// the test images are missing it throws, so the suite fails and says how to fix the machine.
import Docker from 'dockerode';

/** MCP "everything" server: ENTRYPOINT node .../server-everything/dist/index.js, CMD ["stdio"]. */
export const TEST_IMAGE = 'gatehouse-test/everything:latest';
/** Same root filesystem, ENTRYPOINT node and no CMD: `docker run gatehouse-test/node /app/fixtures/x.mjs`. */
export const TEST_NODE_IMAGE = 'gatehouse-test/node:latest';
/** Label that tests put on their containers (through the app's extra-labels option). */
// Outside dev.gatehouse.*, which Gatehouse reserves for itself.
export const TEST_RUN_LABEL = 'gatehouse-test.run';

const DEFAULT_SOCKET = '/var/run/docker.sock';

const START_ENGINE_HELP =
  'Start a Docker engine the way this project runs it (as root, no bridge, no iptables):\n' +
  '  dockerd --bridge=none --iptables=false --ip6tables=false >/tmp/dockerd.log 2>&1 &\n' +
  "(on Debian the engine comes from 'apt-get install docker.io'), then build the test images:\n" +
  '  bash test/images/build.sh\n' +
  '.ci/run does both.';

const BUILD_IMAGES_HELP =
  'Build the test images (no registry is needed, they are assembled locally with docker import):\n' +
  '  bash test/images/build.sh';

function engineAddress(): string {
  const host = process.env['DOCKER_HOST'];
  return host !== undefined && host !== '' ? host : `unix://${DEFAULT_SOCKET}`;
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code !== undefined ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

function statusCodeOf(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'statusCode' in err) {
    const status = (err as { statusCode?: unknown }).statusCode;
    return typeof status === 'number' ? status : undefined;
  }
  return undefined;
}

/**
 * Connects to the Docker engine (DOCKER_HOST, else /var/run/docker.sock), pings it and checks that
 * TEST_IMAGE exists. Throws an Error that says what to run when either is missing.
 */
export async function requireDocker(): Promise<Docker> {
  const address = engineAddress();
  let docker: Docker;
  try {
    // With no options docker-modem reads DOCKER_HOST (and DOCKER_TLS_VERIFY, DOCKER_CERT_PATH).
    docker =
      process.env['DOCKER_HOST'] !== undefined && process.env['DOCKER_HOST'] !== ''
        ? new Docker()
        : new Docker({ socketPath: DEFAULT_SOCKET });
  } catch (err) {
    throw new Error(`Cannot use the Docker engine at ${address} (${describeError(err)}).\n${START_ENGINE_HELP}`);
  }

  try {
    await docker.ping();
  } catch (err) {
    throw new Error(
      `No Docker engine answers at ${address} (${describeError(err)}). ` +
        `These tests need a real engine and are not skipped.\n${START_ENGINE_HELP}`,
    );
  }

  try {
    await docker.getImage(TEST_IMAGE).inspect();
  } catch (err) {
    if (statusCodeOf(err) === 404) {
      throw new Error(`The Docker engine at ${address} has no image ${TEST_IMAGE}.\n${BUILD_IMAGES_HELP}`);
    }
    throw new Error(`Cannot inspect ${TEST_IMAGE} on ${address} (${describeError(err)}).\n${BUILD_IMAGES_HELP}`);
  }
  return docker;
}

/**
 * Force-removes (with their anonymous volumes) every container, running or not, that carries the label
 * `dev.gatehouse.test-run=<label>`. Returns how many were removed. Containers that vanish meanwhile
 * (already removed, removal in progress) are not errors.
 */
export async function removeTestContainers(docker: Docker, label: string): Promise<number> {
  const containers = await docker.listContainers({
    all: true,
    filters: { label: [`${TEST_RUN_LABEL}=${label}`] },
  });
  let removed = 0;
  const failures: string[] = [];
  await Promise.all(
    containers.map(async (info) => {
      try {
        await docker.getContainer(info.Id).remove({ force: true, v: true });
        removed += 1;
      } catch (err) {
        const status = statusCodeOf(err);
        if (status === 404 || status === 409) return; // gone already, or its removal is under way
        failures.push(`${info.Id.slice(0, 12)}: ${describeError(err)}`);
      }
    }),
  );
  if (failures.length > 0) {
    throw new Error(`Could not remove test containers labelled ${TEST_RUN_LABEL}=${label}:\n${failures.join('\n')}`);
  }
  return removed;
}
