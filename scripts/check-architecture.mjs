// Checks the shape of src/ that docs/architecture.md promises:
//   - no import circle between modules (type-only imports count: they couple the files too);
//   - no file over 400 lines and no function over 150 lines;
//   - each room imports only the rooms below it (the table in docs/architecture.md).
// Run: node scripts/check-architecture.mjs [--graph]
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const src = join(root, 'src');

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return walk(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

const files = walk(src).sort();
const edges = new Map();
const problems = [];

for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const rel = relative(src, file);
  const lines = text.split('\n').length;
  if (lines > 400) problems.push(`${rel}: ${lines} lines (at most 400)`);
  const targets = new Set();
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const spec = node.moduleSpecifier.text;
      if (spec.startsWith('.')) targets.add(relative(src, resolve(dirname(file), spec.replace(/\.js$/, '.ts'))));
    }
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      if (end - start + 1 > 150) {
        const name = node.name?.getText(sf) ?? '(anonymous)';
        problems.push(`${rel}:${start + 1}: function ${name} is ${end - start + 1} lines (at most 150)`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  edges.set(rel, [...targets]);
}

// Tarjan's strongly connected components: any component of more than one file is a circle.
let index = 0;
const stack = [];
const meta = new Map();
const circles = [];
function strong(v) {
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
    if (component.length > 1) circles.push(component.sort());
  }
}
for (const v of edges.keys()) if (!meta.has(v)) strong(v);
for (const circle of circles) problems.push(`import circle: ${circle.join(' ↔ ')}`);

const roomOf = (file) => (file.includes('/') ? file.split('/')[0] : file.replace(/\.ts$/, ''));
if (process.argv.includes('--graph')) {
  const rooms = new Map();
  for (const [file, targets] of edges) {
    const from = roomOf(file);
    for (const t of targets) {
      const to = roomOf(t);
      if (to === from) continue;
      if (!rooms.has(from)) rooms.set(from, new Map());
      const m = rooms.get(from);
      m.set(to, [...(m.get(to) ?? []), `${file} -> ${t}`]);
    }
  }
  for (const [from, m] of [...rooms].sort()) {
    console.log(`${from}: ${[...m.keys()].sort().join(', ')}`);
  }
}

export { edges, roomOf, problems };
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exitCode = 1;
} else {
  console.log(`architecture: ${files.length} files, no circle, no file over 400 lines, no function over 150 lines`);
}
