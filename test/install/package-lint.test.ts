/**
 * Every published package passes publint --strict (its package.json, exports and files are what a bundler and Node
 * expect) and arethetypeswrong (its types resolve to what its JavaScript exports, for every `exports` entry). The
 * packages are ESM only, so attw checks the ESM resolutions (`--profile esm-only`: node16/nodenext ESM and bundler).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { packWorkspaces, type Tarballs } from '../helpers/packages.js';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'node_modules', '.bin');
let packDir = '';
let tarballs: Tarballs = {};

beforeAll(() => {
  packDir = mkdtempSync(join(tmpdir(), 'restjwt-lint-'));
  tarballs = packWorkspaces(packDir);
}, 120_000);

afterAll(() => rmSync(packDir, { recursive: true, force: true }));

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
});
