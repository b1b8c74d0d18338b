/**
 * The built `restjwt` CLI (package `restjwt`, packages/restjwt/dist/cli/main.js) for the tests that run it as a real
 * process. `npm test` builds first; when a test file runs on its own after an edit, the same check as `npm start`
 * (scripts/build-if-stale.mjs) rebuilds the packages whose sources are newer than the last build.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = join(ROOT, 'packages/restjwt/dist/cli/main.js');

/** Builds when stale and returns the CLI's path; throws with the build's own output when it cannot. */
export function builtCli(): string {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/build-if-stale.mjs')], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0 || !existsSync(CLI)) throw new Error(`${CLI} could not be built: run "npm run build" and look at its errors\n${r.stdout}${r.stderr}`);
  return CLI;
}
