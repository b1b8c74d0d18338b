/**
 * `npm run bench:install`: what each choice of "install only what you use" costs a user — the six install lines of
 * test/install/apps.ts (the README's table), each installed from the packed tarballs into a fresh project with a
 * fresh, empty npm cache (a cold install: everything else comes from the registry), one after another. Prints, per
 * app: packages installed (lines of `npm ls --all --omit=dev --parseable`, less the project's own line), `du -sh node_modules`, and the
 * wall time of the `npm install`.
 *
 * The workspaces must be built first (`npm run build`). BENCH_INSTALL=a,c limits the run to some apps.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installLine, packWorkspaces, productionPaths } from '../test/helpers/packages.js';
import { APPS } from '../test/install/apps.js';

const only = process.env.BENCH_INSTALL?.split(',').map((s) => s.trim());
const work = mkdtempSync(join(tmpdir(), 'restjwt-bench-install-'));
try {
  const tarballs = packWorkspaces(join(work));
  console.log('| app | install line | packages | node_modules | cold install |');
  console.log('|---|---|---|---|---|');
  for (const app of APPS) {
    if (only !== undefined && !only.includes(app.id)) continue;
    const cache = mkdtempSync(join(work, `cache-${app.id}-`));
    const installed = await installLine(app.line, tarballs, { cache });
    if (installed.status !== 0) throw new Error(`(${app.id}) npm install failed:\n${installed.output}`);
    const count = productionPaths(installed.dir).length;
    const size = execFileSync('du', ['-sh', join(installed.dir, 'node_modules')], { encoding: 'utf8' }).split('\t')[0];
    console.log(`| (${app.id}) ${app.title} | \`${app.line}\` | ${count} | ${size} | ${(installed.ms / 1000).toFixed(1)} s |`);
    rmSync(installed.dir, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
