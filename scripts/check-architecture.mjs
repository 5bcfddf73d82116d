// Checks the shape of src/ that docs/architecture.md promises:
//   - each room (a folder of src/, or a file at its top) imports only rooms on its own floor or below;
//   - no import circle between files (type-only imports count: they couple the files too);
//   - no file over 400 lines and no function over 150 lines;
//   - only src/store/ imports ioredis; only src/server/ (the reference server) reads the environment.
// Usage: node scripts/check-architecture.mjs [root] [--graph]   (root defaults to this repository)
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** docs/architecture.md "Rooms and floors": lowest first. A room may import its own floor and below. */
export const FLOORS = [
  ['constants', 'errors', 'digest', 'configuration-error', 'accounts', 'claims'],
  ['audit'],
  ['observability', 'dpop'],
  ['store', 'notify', 'webhooks', 'resource-server'],
  ['config'],
  ['exchange'],
  ['lifecycle', 'browser', 'approvals', 'delegations', 'web'],
  ['admin', 'account', 'banner'],
  ['extension', 'index'],
  ['server'],
];

const MAX_FILE_LINES = 400;
const MAX_FUNCTION_LINES = 150;

const roomOf = (file) => (file.includes('/') ? file.split('/')[0] : file.replace(/\.ts$/, ''));
const floorOf = (room) => FLOORS.findIndex((rooms) => rooms.includes(room));

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return walk(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Reads one file: its relative imports (as paths under src/), and its size problems. */
function readModule(src, file) {
  const text = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const rel = relative(src, file);
  const problems = [];
  const lines = text.split('\n').length;
  if (lines > MAX_FILE_LINES) problems.push(`${rel}: ${lines} lines (at most ${MAX_FILE_LINES})`);
  const imports = new Set();
  const packages = new Set();
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const spec = node.moduleSpecifier.text;
      if (spec.startsWith('.')) imports.add(relative(src, resolve(dirname(file), spec.replace(/\.js$/, '.ts'))));
      else packages.add(spec);
    }
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      if (end - start + 1 > MAX_FUNCTION_LINES) {
        problems.push(`${rel}:${start + 1}: function ${node.name?.getText(sf) ?? '(anonymous)'} is ${end - start + 1} lines (at most ${MAX_FUNCTION_LINES})`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return { rel, imports: [...imports], packages: [...packages], readsEnv: /\bprocess\.env\b/.test(text), problems };
}

/** Tarjan's strongly connected components: every component of more than one file is a circle. */
function circles(edges) {
  let index = 0;
  const stack = [];
  const meta = new Map();
  const found = [];
  const strong = (v) => {
    meta.set(v, { index, low: index, on: true });
    index += 1;
    stack.push(v);
    for (const w of edges.get(v) ?? []) {
      if (!edges.has(w)) continue;
      if (!meta.has(w)) {
        strong(w);
        meta.get(v).low = Math.min(meta.get(v).low, meta.get(w).low);
      } else if (meta.get(w).on) {
        meta.get(v).low = Math.min(meta.get(v).low, meta.get(w).index);
      }
    }
    if (meta.get(v).low === meta.get(v).index) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        meta.get(w).on = false;
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of edges.keys()) if (!meta.has(v)) strong(v);
  return found;
}

/** Every problem of `<root>/src`, one line each; and the room graph. */
export function checkArchitecture(root) {
  const src = join(root, 'src');
  const modules = walk(src).sort().map((file) => readModule(src, file));
  const problems = modules.flatMap((m) => m.problems);
  const edges = new Map(modules.map((m) => [m.rel, m.imports]));
  const graph = new Map();
  for (const m of modules) {
    const from = roomOf(m.rel);
    if (floorOf(from) < 0) problems.push(`${m.rel}: room "${from}" is on no floor (add it to FLOORS and to docs/architecture.md)`);
    for (const target of m.imports) {
      const to = roomOf(target);
      if (to === from) continue;
      if (!graph.has(from)) graph.set(from, new Set());
      graph.get(from).add(to);
      if (floorOf(to) > floorOf(from)) problems.push(`${m.rel}: imports ${target}, a room above its own ("${from}" may not import "${to}")`);
    }
    if (m.packages.includes('ioredis') && from !== 'store') problems.push(`${m.rel}: imports ioredis (only src/store/ may)`);
    if (m.readsEnv && from !== 'server') problems.push(`${m.rel}: reads process.env (only src/server/, the reference server, may)`);
  }
  for (const circle of circles(edges)) problems.push(`import circle: ${circle.join(' ↔ ')}`);
  return { files: modules.length, problems, graph };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const root = resolve(args.find((a) => !a.startsWith('--')) ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
  const { files, problems, graph } = checkArchitecture(root);
  if (args.includes('--graph')) {
    for (const [from, to] of [...graph].sort()) process.stdout.write(`${from} (floor ${floorOf(from)}): ${[...to].sort().join(', ')}\n`);
  }
  if (problems.length > 0) {
    process.stderr.write(`check-architecture: ${problems.length} problem(s)\n${problems.join('\n')}\n`);
    process.exit(1);
  }
  process.stdout.write(`check-architecture: ok (${files} files in src/: floors kept, no circle, no file over ${MAX_FILE_LINES} lines, no function over ${MAX_FUNCTION_LINES} lines)\n`);
}
