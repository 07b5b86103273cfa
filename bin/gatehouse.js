#!/usr/bin/env node
// Thin launcher: the command line lives in dist/cli (compiled by `npm ci` through the prepare script).
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('gatehouse: the build is missing; run `npm ci` (or `npm run build`) in the Gatehouse folder first.\n');
    process.exit(70);
  }
  throw err;
});
