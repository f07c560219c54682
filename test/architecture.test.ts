// The layering rules of the code base (STYLE, issue 11), checked on the source itself: the wire contract imports
// nothing of the server, the client and CLI import only the contract, only the records layer talks SQL, routes and
// processors call only the domain, no module imports itself through others at run time, and files and functions stay small.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');

const sources = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', 'src', 'scripts', 'bench'], { cwd: ROOT, encoding: 'utf8' })
  .split('\n')
  .filter((f) => f.endsWith('.ts') && !f.includes('/generated/') && fs.existsSync(path.join(ROOT, f)));

interface Parsed {
  file: string;
  text: string;
  ast: ts.SourceFile;
  /** Import targets: repository paths (src/...) for relative specifiers, package names otherwise. */
  imports: Array<{ target: string; typeOnly: boolean }>;
}

/** `import type {...}`, or `import { type A, type B }`: erased from the emitted JavaScript. */
function isTypeOnlyImport(clause: ts.ImportClause | undefined): boolean {
  if (!clause) return false;
  if (clause.isTypeOnly) return true;
  const named = clause.namedBindings;
  return !clause.name && named !== undefined && ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
}

/** The import cycles among files, following only imports that remain at run time (each as "a -> b -> a"). */
function importCycles(files: Parsed[]): string[] {
  const edges = new Map(files.map((p) => [p.file, p.imports.filter((i) => !i.typeOnly && !isPackage(i.target)).map((i) => i.target)]));
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of edges.get(file) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next].join(' -> '));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const p of files) if (!state.has(p.file)) visit(p.file);
  return cycles;
}

function parse(file: string): Parsed {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const ast = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const imports: Parsed['imports'] = [];
  const add = (specifier: string, typeOnly: boolean) => {
    const target = specifier.startsWith('.')
      ? path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)).replace(/\.js$/, '.ts')
      : specifier;
    imports.push({ target, typeOnly });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, isTypeOnlyImport(node.importClause));
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteral(arg)) add(arg.text, false);
    }
    ts.forEachChild(node, visit);
  };
  visit(ast);
  return { file, text, ast, imports };
}

const parsed = sources.map(parse);
const under = (dir: string) => parsed.filter((p) => p.file.startsWith(dir));
const isPackage = (target: string) => !target.startsWith('src/') && !target.startsWith('scripts/') && !target.startsWith('bench/');

/** Every import of files in dir that allow() refuses, as "file -> target". */
function violations(files: Parsed[], allow: (target: string, typeOnly: boolean) => boolean): string[] {
  return files.flatMap((p) => p.imports.filter((i) => !allow(i.target, i.typeOnly)).map((i) => `${p.file} -> ${i.target}`));
}

describe('layering', () => {
  it('the wire contract imports only zod and itself', () => {
    expect(under('src/contract/').length).toBeGreaterThan(0);
    expect(violations(under('src/contract/'), (t) => t === 'zod' || t.startsWith('src/contract/'))).toEqual([]);
  });

  it('the client imports only the contract, itself and packages', () => {
    expect(violations(under('src/client/'), (t) => isPackage(t) || t.startsWith('src/contract/') || t.startsWith('src/client/'))).toEqual([]);
  });

  it('the CLI imports only the contract, the client, the hash pool and itself', () => {
    const allowed = ['src/contract/', 'src/client/', 'src/cli/', 'src/shared/hashing/', 'src/shared/version.ts'];
    expect(violations(under('src/cli/'), (t) => isPackage(t) || allowed.some((a) => t.startsWith(a)))).toEqual([]);
  });

  it('the hash pool imports nothing else of the server (the CLI uses it)', () => {
    expect(violations(under('src/shared/hashing/'), (t) => isPackage(t) || t.startsWith('src/shared/hashing/'))).toEqual([]);
  });

  it('only the records layer reaches the database (generated client, pg, poolOf)', () => {
    const outside = parsed.filter((p) => p.file.startsWith('src/') && !p.file.startsWith('src/shared/records/'));
    const db = (t: string) => t === 'pg' || t.startsWith('src/shared/db/generated/') || t.startsWith('@prisma/');
    expect(violations(outside, (t) => !db(t))).toEqual([]);
    expect(outside.filter((p) => /\bpoolOf\b|\$queryRaw|\$executeRaw/.test(p.text)).map((p) => p.file)).toEqual([]);
  });

  it('routes and job processors call the domain, never the records layer (the composition roots may open it)', () => {
    const roots = new Set(['src/api/context.ts', 'src/workers/context.ts']);
    const callers = [...under('src/api/'), ...under('src/workers/')].filter((p) => !roots.has(p.file));
    expect(violations(callers, (t, typeOnly) => !t.startsWith('src/shared/records/') || (typeOnly && t === 'src/shared/records/database.ts'))).toEqual([]);
  });

  it('no import cycle at run time (ES modules in a cycle run against half-initialised bindings)', () => {
    expect(importCycles(parsed)).toEqual([]);
  });

  it('the API never imports a worker and a worker never imports the API', () => {
    expect(violations(under('src/api/'), (t) => !t.startsWith('src/workers/'))).toEqual([]);
    expect(violations(under('src/workers/'), (t) => !t.startsWith('src/api/'))).toEqual([]);
  });
});

describe('one source for each fact', () => {
  const src = parsed.filter((p) => p.file.startsWith('src/'));
  const filesMatching = (re: RegExp) => src.filter((p) => re.test(p.text)).map((p) => p.file);

  it('the final job states are listed once (src/contract/wire-constants.ts)', () => {
    expect(filesMatching(/'committed',\s*'duplicate',\s*'failed'/)).toEqual(['src/contract/wire-constants.ts']);
  });

  it('a unique violation (SQLSTATE 23505) is recognised in one place, in the records layer', () => {
    const files = filesMatching(/23505/);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^src\/shared\/records\//);
  });

  it('the blob store is used through its interface: no instanceof on a backend', () => {
    expect(filesMatching(/instanceof\s+\w*BlobStore\b/)).toEqual([]);
  });
});

describe('size', () => {
  const MAX_FILE_LINES = 300;
  const MAX_FUNCTION_LINES = 80;

  it(`no source file is longer than ${MAX_FILE_LINES} lines`, () => {
    const long = parsed.map((p) => ({ file: p.file, lines: p.text.split('\n').length })).filter((f) => f.lines > MAX_FILE_LINES);
    expect(long).toEqual([]);
  });

  it(`no function is longer than ${MAX_FUNCTION_LINES} lines`, () => {
    const long: string[] = [];
    for (const p of parsed) {
      const visit = (node: ts.Node) => {
        if (ts.isFunctionLike(node) && 'body' in node && node.body) {
          const start = p.ast.getLineAndCharacterOfPosition(node.getStart()).line;
          const end = p.ast.getLineAndCharacterOfPosition(node.end).line;
          if (end - start + 1 > MAX_FUNCTION_LINES) long.push(`${p.file}:${start + 1} (${end - start + 1} lines)`);
        }
        ts.forEachChild(node, visit);
      };
      visit(p.ast);
    }
    expect(long).toEqual([]);
  });
});
