// Runs a file of dist/ (the reference server, the demo login, the audit CLI), building dist/ first
// only when it is missing or older than the sources: `npm run audit` answers in well under a second
// instead of waiting for tsc on every call. The file runs in this process, so a signal sent to it
// (or to `npm start`, which execs this script) reaches the server itself.
//
//   node scripts/run-built.mjs dist/server/audit-cli.js verify --file out.jsonl
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  process.stderr.write('usage: node scripts/run-built.mjs <dist file> [arguments]\n');
  process.exit(2);
}

/** The newest modification time under `path` (a file or a folder). */
function newest(path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

const target = resolve(root, entry);
const builtAt = statSync(target, { throwIfNoEntry: false })?.mtimeMs ?? 0;
const sources = ['src', 'tsconfig.json', 'tsconfig.build.json', 'tsconfig.browser.json'].map((name) => newest(join(root, name)));
if (builtAt < Math.max(...sources)) {
  process.stderr.write(builtAt === 0 ? 'building dist/ (first run: there is no build yet)…\n' : 'building dist/ (the sources changed since the last build)…\n');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  for (const project of ['tsconfig.build.json', 'tsconfig.browser.json']) {
    execFileSync(process.execPath, [tsc, '-p', join(root, project)], { stdio: 'inherit' });
  }
}

process.argv = [process.argv[0], target, ...args];
await import(pathToFileURL(target).href);
