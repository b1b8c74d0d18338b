/**
 * Every published package passes publint --strict (its package.json, exports and files are what a bundler and Node
 * expect) and arethetypeswrong (its types resolve to what its JavaScript exports, for every `exports` entry). The
 * packages are ESM only, so attw checks the ESM resolutions (`--profile esm-only`: node16/nodenext ESM and bundler).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { installLine, packWorkspaces, typeCheck, type Tarballs } from '../helpers/packages.js';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'node_modules', '.bin');
let packDir = '';
let tarballs: Tarballs = {};

beforeAll(() => {
  packDir = mkdtempSync(join(tmpdir(), 'restjwt-lint-'));
  tarballs = packWorkspaces(packDir);
}, 120_000);

const temp: string[] = [];
afterAll(() => {
  for (const dir of [packDir, ...temp]) rmSync(dir, { recursive: true, force: true });
});

/** Every `exports` entry of every package, as the specifier an app imports (`@restjwt/core/admin`). */
function entryPoints(): string[] {
  const specifiers: string[] = [];
  for (const name of Object.keys(tarballs)) {
    const dir = name === 'restjwt' ? 'restjwt' : name.slice('@restjwt/'.length);
    const manifest = JSON.parse(readFileSync(join(ROOT, 'packages', dir, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    for (const subpath of Object.keys(manifest.exports)) if (subpath !== './package.json') specifiers.push(subpath === '.' ? name : `${name}${subpath.slice(1)}`);
  }
  return specifiers.sort();
}

describe('published packages', () => {
  test('publint --strict finds nothing in any package', () => {
    for (const [name, tarball] of Object.entries(tarballs)) {
      // publint reads the tarball the way npm publishes it.
      const r = spawnSync(join(BIN, 'publint'), ['--strict', '--pack', 'false', tarball], { cwd: dirname(tarball), encoding: 'utf8' });
      expect(r.status, `${name}:\n${r.stdout}${r.stderr}`).toBe(0);
    }
  }, 120_000);

  test('arethetypeswrong: types resolve for every exports entry', () => {
    for (const [name, tarball] of Object.entries(tarballs)) {
      const r = spawnSync(join(BIN, 'attw'), ['--profile', 'esm-only', '--format', 'table-flipped', tarball], { cwd: dirname(tarball), encoding: 'utf8' });
      expect(r.status, `${name}:\n${r.stdout}${r.stderr}`).toBe(0);
    }
  }, 120_000);

  test('the declarations of every entry point type-check in an app: --strict, no skipLibCheck, nodenext and bundler', async () => {
    // Every package and every peer, without install scripts: this checks types only, nothing runs.
    const line = `npm i ${Object.keys(tarballs).join(' ')} express fastify hono @hono/node-server @nestjs/core@11 @nestjs/common@11 reflect-metadata rxjs pg mysql2`;
    const app = await installLine(line, tarballs, { dev: ['typescript@5.9', '@types/node@20'], ignoreScripts: true });
    temp.push(app.dir);
    expect(app.status, app.output).toBe(0);
    const specifiers = entryPoints();
    expect(specifiers.length).toBeGreaterThanOrEqual(16);
    writeFileSync(join(app.dir, 'all.ts'), specifiers.map((s, i) => `import * as entry${i} from '${s}';\nexport { entry${i} };\n`).join(''));
    for (const run of typeCheck(app.dir, 'all.ts')) expect(run.status, `tsc (${run.resolution}):\n${run.output}`).toBe(0);
  }, 300_000);
});
