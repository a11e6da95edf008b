// The shipped types (index.d.ts) type-check a real server (tests/polyglot/ts/server.ts)
// and catch the mistakes in test/types/misuse.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

test('the types check a server and refuse its mistakes', () => {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
  const run = spawnSync(process.execPath, [tsc, '-p', `${here}types/tsconfig.json`], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stdout + run.stderr);
});
