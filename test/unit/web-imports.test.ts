// The modules of @restjwt/core (but its Node http bridge, `@restjwt/core/node`) and @restjwt/hono load on a runtime
// without Node built-ins (a Worker without nodejs_compat refuses a whole bundle at its first `node:` import): no
// import of `node:*` or of a bare Node module name, and no global Buffer, in the JavaScript each module compiles to
// (types are erased). Node built-ins are reached through `process.getBuiltinModule` (runtime.ts) where a Node fast
// path is worth it.
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const PACKAGES = join(import.meta.dirname, '../../packages');
const ROOTS = [join(PACKAGES, 'core/src'), join(PACKAGES, 'hono/src')];
const NODE_ONLY = join(PACKAGES, 'core/src/node');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return path === NODE_ONLY ? [] : sources(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

const bare = new Set(builtinModules.filter((m) => !m.startsWith('_')));
// `import x from 'm'`, `import { a } from 'm'`, `export … from 'm'`, `import 'm'`, `import('m')`, in emitted code.
const IMPORT = /(?:^|\n)\s*(?:import|export)\s+(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The module as JavaScript, without comments: what a bundler sees. */
function emitted(file: string): string {
  const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true, removeComments: true },
    fileName: file,
  });
  return outputText;
}

/**
 * Where a module reads Node's global `Buffer` or `process` as a value: identifiers that resolve to @types/node's
 * globals (a local binding of the same name is not one), outside types.
 */
function nodeGlobals(program: ts.Program, file: string): string[] {
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  if (source === undefined) throw new Error(`not in the program: ${file}`);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    // Types are erased, and imports are checked in the emitted code.
    if (ts.isTypeNode(node) || ts.isImportDeclaration(node) || ts.isExportDeclaration(node) || ts.isImportEqualsDeclaration(node)) return;
    if (ts.isIdentifier(node) && (node.text === 'Buffer' || node.text === 'process')) {
      const isName = ts.isPropertyAccessExpression(node.parent) && node.parent.name === node;
      const declarations = isName ? [] : (checker.getSymbolAtLocation(node)?.declarations ?? []);
      if (declarations.length > 0 && declarations.every((d) => d.getSourceFile().fileName.includes('/@types/node/'))) {
        found.push(`${node.text} at line ${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('the web entries load without Node built-ins', () => {
  const files = ROOTS.flatMap(sources);
  const program = ts.createProgram(files, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: ['node'],
    strict: true,
    skipLibCheck: true,
    noEmit: true,
  });

  it('finds the sources', () => {
    expect(files.length).toBeGreaterThan(50);
  });

  it.each(files.map((f) => [relative(PACKAGES, f), f]))('%s', (_name, file) => {
    const code = emitted(file);
    const imported = [...code.matchAll(IMPORT)].map((m) => (m[1] ?? m[2]) as string);
    const node = imported.filter((m) => m.startsWith('node:') || bare.has(m.split('/')[0] as string));
    expect(node).toEqual([]);
    // A Worker without nodejs_compat has neither global.
    expect(nodeGlobals(program, file)).toEqual([]);
  });
});
