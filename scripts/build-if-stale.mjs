// `npm start`'s first step: build only when a source is newer than the last build, so a start after `npm ci` (whose
// `prepare` already built) listens at once instead of compiling for half a minute first.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** What the build reads: a change to any of these makes dist/ stale. */
const INPUTS = ['src', 'scripts/copy-assets.mjs', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];
/** Written by every build (tsc emits every file), so its time is the last build's. */
const OUTPUT = 'dist/cli/main.js';

function newest(path) {
  const info = statSync(path, { throwIfNoEntry: false });
  if (info === undefined) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  let latest = info.mtimeMs; // a deleted file changes its folder's time
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)));
  return latest;
}

const built = statSync(OUTPUT, { throwIfNoEntry: false })?.mtimeMs ?? 0;
const changed = Math.max(...INPUTS.map(newest));
if (changed > built) {
  process.stderr.write(built === 0 ? 'restjwt: building (first start)…\n' : 'restjwt: building (the sources changed since the last build)…\n');
  const npm = process.env.npm_execpath;
  const r = npm ? spawnSync(process.execPath, [npm, 'run', '--silent', 'build'], { stdio: 'inherit' }) : spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit', shell: true });
  if (r.status !== 0) {
    process.stderr.write('restjwt: the build failed (see above); fix the error and run npm start again.\n');
    process.exit(r.status ?? 1);
  }
}
