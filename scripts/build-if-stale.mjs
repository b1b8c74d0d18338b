// `npm start`'s first step: build only when a source is newer than the last build, so a start after `npm ci` (whose
// `prepare` already built) listens at once instead of compiling for half a minute first.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** What the build reads: a change to any of these makes dist/ stale. */
const INPUTS = ['packages', 'scripts/copy-assets.mjs', 'tsconfig.base.json', 'tsconfig.build.json', 'package.json'];
/** Build outputs and installed packages inside `packages/` are not inputs. */
const SKIP = new Set(['dist', 'node_modules']);
/** Written at the end of every build (tsc -b rewrites only the packages that changed), so its time is the last build's. */
const OUTPUT = 'node_modules/.cache/restjwt-build-stamp';

function newest(path) {
  const info = statSync(path, { throwIfNoEntry: false });
  if (info === undefined) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  let latest = info.mtimeMs; // a deleted file changes its folder's time
  for (const entry of readdirSync(path)) if (!SKIP.has(entry)) latest = Math.max(latest, newest(join(path, entry)));
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
