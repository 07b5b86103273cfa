#!/usr/bin/env node
// Writes a package.json + package-lock.json for a staging folder that installs ONE package from the
// project's package-lock.json together with exactly the dependency versions the project's lockfile
// resolved for it (so the test image holds the same server code the dev tree has, and the install
// works offline from the npm cache that `npm ci` filled).
//
// usage: node lock-subset.mjs <project package-lock.json> <package name> <out dir>
// Prints the pinned version on stdout.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const [lockPath, pkgName, outDir] = process.argv.slice(2);
if (!lockPath || !pkgName || !outDir) {
  console.error('usage: node lock-subset.mjs <package-lock.json> <package name> <out dir>');
  process.exit(2);
}

const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
if (!lock.packages || (lock.lockfileVersion ?? 0) < 2) {
  console.error(`${lockPath}: lockfileVersion >= 2 with a "packages" map is required`);
  process.exit(1);
}
const packages = lock.packages;
const rootKey = `node_modules/${pkgName}`;
const rootEntry = packages[rootKey];
if (!rootEntry || !rootEntry.version) {
  console.error(`${lockPath}: no entry "${rootKey}" (is ${pkgName} a dependency of the project?)`);
  process.exit(1);
}

// Parent install location of a lockfile key: "node_modules/a/node_modules/@s/b" -> "node_modules/a".
function parentOf(key) {
  const i = key.lastIndexOf('/node_modules/');
  return i < 0 ? '' : key.slice(0, i);
}

// Node's resolution over lockfile keys: look in <from>/node_modules/<name>, then in each ancestor.
function resolve(from, name) {
  let at = from;
  for (;;) {
    const key = at === '' ? `node_modules/${name}` : `${at}/node_modules/${name}`;
    if (packages[key]) return key;
    if (at === '') return undefined;
    at = parentOf(at);
  }
}

const keep = new Set();
const queue = [rootKey];
while (queue.length > 0) {
  const key = queue.shift();
  if (keep.has(key)) continue;
  keep.add(key);
  const entry = packages[key];
  const edges = [
    ...Object.keys(entry.dependencies ?? {}).map((n) => [n, true]),
    ...Object.keys(entry.optionalDependencies ?? {}).map((n) => [n, false]),
    ...Object.keys(entry.peerDependencies ?? {}).map((n) => [n, false]),
  ];
  for (const [name, required] of edges) {
    const found = resolve(key, name);
    if (found) queue.push(found);
    else if (required) {
      console.error(`${lockPath}: cannot resolve dependency "${name}" of "${key}"`);
      process.exit(1);
    }
  }
}

const version = rootEntry.version;
const rootPkg = {
  name: 'gatehouse-test-image-app',
  version: '0.0.0',
  private: true,
  dependencies: { [pkgName]: version },
};
const outPackages = { '': { name: rootPkg.name, version: rootPkg.version, dependencies: rootPkg.dependencies } };
for (const key of [...keep].sort()) {
  const entry = { ...packages[key] };
  // In the staging tree everything is a production dependency; `npm install --omit=dev` must keep it.
  delete entry.dev;
  delete entry.devOptional;
  delete entry.peer;
  outPackages[key] = entry;
}
const outLock = { name: rootPkg.name, version: rootPkg.version, lockfileVersion: 3, requires: true, packages: outPackages };

mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'package.json'), JSON.stringify(rootPkg, null, 2) + '\n');
writeFileSync(join(outDir, 'package-lock.json'), JSON.stringify(outLock, null, 2) + '\n');
process.stdout.write(version + '\n');
