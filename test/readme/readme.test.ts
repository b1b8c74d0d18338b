/**
 * The README cannot drift from the product: its fenced blocks marked `test:NAME` run here as a reader would run
 * them, and each must print exactly what its `# →` (shell) or `// →` (TypeScript) lines show, `…` standing for any
 * text (token bytes, ids, times).
 *
 * - `test:walkthrough` (shell) runs against a fresh `restjwt serve` in an empty folder, `npx restjwt` being this
 *   clone's CLI, as it is in a clone.
 * - `test:app-setup` runs in a fresh folder with the packed tarball (`npm pack`) standing for `restjwt` in `npm i`;
 *   then `test:fastify` and `test:express` (TypeScript, type-checked with --strict and run) each serve there, and
 *   `test:app-try` (shell) must print what the README shows against each.
 * - `test:client` runs in that folder against the walkthrough's server.
 *
 * The only edits made to a block: the README's addresses (`127.0.0.1:8000`, `127.0.0.1:3000`) become the servers'
 * real ones, and the tarball replaces the registry name.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { packWorkspaces, reuseNativeBuilds, typeCheck } from '../helpers/packages.js';
import { waitForListening } from '../helpers/serve-process.js';
import { freePort } from '../helpers/free-port.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'packages', 'restjwt', 'dist', 'cli', 'main.js');

interface Block {
  lang: string;
  name: string;
  code: string;
}

/** Every fenced block whose info string is `LANG test:NAME`. */
function readmeBlocks(): Map<string, Block> {
  const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const blocks = new Map<string, Block>();
  for (const m of text.matchAll(/^```(\w+) test:([\w-]+)\n([\s\S]*?)^```$/gm)) {
    const [, lang = '', name = '', code = ''] = m;
    if (blocks.has(name)) throw new Error(`README.md has two blocks marked test:${name}`);
    blocks.set(name, { lang, name, code });
  }
  return blocks;
}

const blocks = readmeBlocks();
function block(name: string): Block {
  const b = blocks.get(name);
  if (b === undefined) throw new Error(`README.md has no block marked test:${name}`);
  return b;
}

/** The lines a block says it prints: its `# → ` (shell) or `// → ` (TypeScript) comments, in order. */
function shownOutput(b: Block): string[] {
  const marker = b.lang === 'sh' ? '# →' : '// →';
  return b.code
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(marker))
    .map((l) => l.slice(marker.length).replace(/^ /, ''));
}

/** `…` in a shown line stands for any text; everything else must be there as it is. */
function linePattern(shown: string): RegExp {
  return new RegExp(`^${shown.split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*?')}$`);
}

/** Checks printed output against what the README shows, line by line, with a message that points at the block. */
function expectShown(b: Block, printed: string): void {
  const shown = shownOutput(b);
  const lines = printed.replace(/\n$/, '').split('\n');
  const report = `README block test:${b.name} printed:\n${printed}\nbut shows:\n${shown.join('\n')}`;
  expect(lines.length, report).toBe(shown.length);
  shown.forEach((s, i) => expect(linePattern(s).test(lines[i] ?? ''), `line ${i + 1}: ${JSON.stringify(lines[i])}\n${report}`).toBe(true));
}

/** Runs shell lines with bash, stopping at the first failing command; stdout and stderr as a terminal shows them. */
function runShell(script: string, cwd: string, env: NodeJS.ProcessEnv = {}): { status: number | null; output: string } {
  const r = spawnSync('bash', ['-c', `set -e\nexec 2>&1\n${script}`], { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 240_000 });
  return { status: r.status, output: r.stdout };
}

const children = new Set<ChildProcess>();
async function stopAll(): Promise<void> {
  await Promise.all(
    [...children].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
        }),
    ),
  );
  children.clear();
}

/** Stops one child and waits for its exit. */
function stop(child: ChildProcess): Promise<void> {
  children.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Starts a program and resolves with its URL once `pattern` (capturing it) appears in its output. */
function startUntil(child: ChildProcess, pattern: RegExp): Promise<string> {
  let out = '';
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${child.spawnargs.join(' ')} did not start within 60 s:\n${out}`)), 60_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const m = pattern.exec(out);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${child.spawnargs.join(' ')} exited (${String(code)}) before listening:\n${out}`));
    });
  });
}

const at = (code: string, readmeAddress: string, url: string) => code.replaceAll(`http://${readmeAddress}`, url);
const tmp: string[] = [];
const freshDir = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tmp.push(d);
  return d;
};

afterAll(async () => {
  await stopAll();
  for (const d of tmp) rmSync(d, { recursive: true, force: true });
});

describe('README: the walkthrough against a fresh restjwt serve', () => {
  let serverDir = '';
  let serverUrl = '';

  beforeAll(async () => {
    serverDir = freshDir('restjwt-readme-serve-');
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0'], { cwd: serverDir, stdio: ['ignore', 'ignore', 'pipe'] });
    children.add(child);
    const exited = new Promise((r) => child.once('exit', r));
    serverUrl = await waitForListening(child, exited, 20_000).url;
  });

  test('every step prints what the README shows', () => {
    const b = block('walkthrough');
    // In a clone, `npx restjwt` is the clone's own bin; here the shell runs in the server's folder, outside the clone.
    const npx = `npx() { if [ "$1" = restjwt ]; then shift; node ${JSON.stringify(CLI)} "$@"; else command npx "$@"; fi; }\n`;
    const r = runShell(npx + at(b.code, '127.0.0.1:8000', serverUrl), serverDir);
    expectShown(b, r.output);
    expect(r.status, r.output).toBe(0);
  });

  describe('in a new app built from the tarball', () => {
    let appDir = '';
    let secretKey = '';

    beforeAll(async () => {
      // dist/ is already built by `npm test`; the tarballs are what `npm publish` would upload.
      const tarballs = packWorkspaces(freshDir('restjwt-readme-pack-'));
      appDir = freshDir('restjwt-readme-app-');
      const setup = block('app-setup');
      // Each restjwt package of an `npm i` line comes from its tarball (a sibling it requires, from the one on the line).
      const script =
        setup.code.replace(/^npm i (.*)$/gm, (_line, args: string) => `npm i --no-audit --no-fund --prefer-offline ${args.split(/\s+/).map((a) => tarballs[a] ?? a).join(' ')}`) +
        '\nprintf %s "$SECRET_KEY" > .secret-key\n';
      reuseNativeBuilds(appDir);
      const r = runShell(script, appDir);
      // npm's own warnings (engines, install scripts) go to the terminal too; what the README shows must be there, in order.
      const printed = r.output.split('\n').filter((l) => !l.startsWith('npm warn') && l.trim() !== '' && !/^(added|up to date|changed) \d+ packages?/.test(l));
      expectShown(setup, `${printed.join('\n')}\n`);
      expect(r.status, r.output).toBe(0);
      secretKey = readFileSync(join(appDir, '.secret-key'), 'utf8');
      expect(secretKey.length).toBeGreaterThanOrEqual(43);
    }, 420_000);

    /**
     * Writes a TypeScript block to NAME.ts in the app's folder and type-checks it there (typeCheck: --strict, without
     * skipLibCheck, the app's own typescript and @types from the set-up block); returns the file, which the app's tsx
     * runs as the README says.
     */
    function compile(b: Block): string {
      const source = join(appDir, `${b.name}.ts`);
      writeFileSync(source, b.code);
      for (const run of typeCheck(appDir, source)) expect(run.status, `tsc (${run.resolution}) on README block test:${b.name}:\n${run.output}`).toBe(0);
      return source;
    }

    /** `npx tsx FILE`, as one process (tsx's loader in node itself), so that stopping it stops the app. */
    const tsx = (file: string) => [process.execPath, ['--import', 'tsx', file]] as const;

    for (const name of ['fastify', 'express']) {
      test(`test:${name} serves, and test:app-try prints what the README shows`, async () => {
        const program = compile(block(name));
        const port = String(await freePort());
        const [node, args] = tsx(program);
        const app = spawn(node, args, { cwd: appDir, env: { ...process.env, PORT: port, SECRET_KEY: secretKey }, stdio: ['ignore', 'pipe', 'pipe'] });
        children.add(app);
        try {
          const url = await startUntil(app, /listening on (http:\/\/\S+)/);
          expect(url).toBe(`http://127.0.0.1:${port}`);
          const tryIt = block('app-try');
          const r = runShell(at(tryIt.code, '127.0.0.1:3000', url), appDir);
          expectShown(tryIt, r.output);
          expect(r.status, r.output).toBe(0);
        } finally {
          await stop(app);
        }
      }, 60_000);
    }

    test('test:client prints what the README shows against the walkthrough\'s server', () => {
      const b = block('client');
      const program = compile({ ...b, code: at(b.code, '127.0.0.1:8000', serverUrl) });
      const [node, args] = tsx(program);
      const r = spawnSync(node, args, { cwd: appDir, encoding: 'utf8', timeout: 30_000 });
      expectShown(b, r.stdout + r.stderr);
      expect(r.status, r.stderr).toBe(0);
    });
  });
});


describe('README: npm start', () => {
  /** `npm start -- …` from the clone, with its database (and so its signing key) in a fresh folder. */
  function npmStart(dir: string): { child: ChildProcess; url: Promise<string>; output: () => string } {
    const child = spawn('npm', ['start', '--', '--port', '0', '--database', `sqlite:${join(dir, 'restjwt.sqlite3')}`], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.add(child);
    const exited = new Promise((r) => child.once('exit', r));
    const { url, stderr } = waitForListening(child, exited, 120_000);
    return { child, url, output: stderr };
  }

  /** Whether anything still accepts connections at `url`. */
  async function answers(url: string): Promise<boolean> {
    try {
      await (await fetch(`${url}/healthz`)).arrayBuffer();
      return true;
    } catch {
      return false;
    }
  }

  test('builds only when the sources changed, and `kill` of npm start stops the server', async () => {
    const dir = freshDir('restjwt-readme-start-');
    // The first start may build (a source newer than dist/); the second must not: it listens at once.
    const first = npmStart(dir);
    await first.url;
    await stop(first.child);
    const second = npmStart(dir);
    const url = await second.url;
    expect(second.output()).not.toMatch(/building/);
    expect(await answers(url)).toBe(true);
    // What the README says: kill the npm start process, and the server finishes and exits with it.
    const exited = new Promise<number | null>((r) => second.child.once('exit', (code) => r(code)));
    second.child.kill('SIGTERM');
    await exited;
    let stillUp = true;
    for (let i = 0; i < 50 && stillUp; i++) {
      stillUp = await answers(url);
      if (stillUp) await new Promise((r) => setTimeout(r, 100));
    }
    expect(stillUp, `the server at ${url} still answers after npm start was killed`).toBe(false);
  }, 240_000);
});

describe('README: the command line table', () => {
  test('lists every command `restjwt --help` lists, and no other', () => {
    const help = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' }).stdout;
    const listed = [...help.slice(help.indexOf('Commands:')).matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]).filter((c) => c !== 'help');
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('## The command line'), readme.indexOf('\n## ', readme.indexOf('## The command line') + 5));
    const documented = [...table.matchAll(/^\| `npx restjwt ([a-z]+)/gm)].map((m) => m[1]);
    expect(listed.length).toBeGreaterThan(5);
    expect([...documented].sort()).toEqual([...listed].sort());
  });
});
