// What `npm publish` would ship, checked before anyone publishes it (CI: `npm run check:package`):
//  1. `npm pack` (its prepack builds dist/) lists the files: the library and its types, README,
//     LICENSE, CHANGELOG; no sources, tests, examples, reference server, fixtures or source maps;
//     no demo secret in any shipped file;
//  2. publint (strict) and @arethetypeswrong/cli (ESM-only profile) on that tarball: the exports map
//     resolves, with types, for ".", "./redis", "./resource-server", "./banner", "./banner/element";
//  3. a consumer project installs the tarball beside oidc-provider (npm installs the peers), type-checks
//     a file importing every export with the libraries' declarations checked (no TS7016 inside ours),
//     and runs it with Node.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const work = mkdtempSync(join(tmpdir(), 'check-package-'));
const problems = [];
const step = (name) => process.stdout.write(`check-package: ${name}\n`);
const bin = (name) => join(root, 'node_modules', '.bin', name);

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options });
  if (result.status !== 0) {
    problems.push(`${[command, ...args].join(' ')} failed (exit ${result.status}):\n${result.stdout}${result.stderr}`);
  }
  return result;
}

/** Every file path an exports map points to. */
function exportTargets(value) {
  if (typeof value === 'string') return [value.replace(/^\.\//, '')];
  return Object.values(value ?? {}).flatMap(exportTargets);
}

try {
  // 1. The tarball and its contents.
  step('npm pack');
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
  const { filename, files, size, unpackedSize } = packed[0];
  const tarball = join(work, filename);
  const paths = files.map((f) => f.path);
  const required = ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', ...new Set(exportTargets(manifest.exports))];
  for (const path of required) if (!paths.includes(path)) problems.push(`the package lacks ${path}`);
  const forbidden = [
    [/^(src|test|examples|bench|scripts|config|docs|\.ci)\//, 'sources, tests, examples, scripts, fixtures and docs stay in the repository'],
    [/^dist\/server\//, 'the reference server (demo accounts and secrets) is not part of the library'],
    [/\.map$/, 'source maps would point at sources that are not shipped'],
    [/\.test\.|__tests__/, 'no tests'],
  ];
  for (const path of paths) {
    for (const [pattern, why] of forbidden) if (pattern.test(path)) problems.push(`the package ships ${path}: ${why}`);
  }
  execFileSync('tar', ['-xzf', tarball, '-C', work]);
  const shipped = join(work, 'package');
  const walk = (dir) => readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? walk(join(dir, name)) : [join(dir, name)]));
  for (const file of walk(shipped)) {
    const text = readFileSync(file, 'utf8');
    for (const secret of ['demo-password', 'support-console-secret', 'orders-api-secret', 'scrypt$']) {
      if (text.includes(secret) && !file.endsWith('README.md')) problems.push(`${file.slice(shipped.length + 1)} contains the demo secret ${secret}`);
    }
  }
  process.stdout.write(`  ${paths.length} files, ${(size / 1024).toFixed(1)} kB packed, ${(unpackedSize / 1024).toFixed(1)} kB unpacked\n`);

  // 2. The exports map, as publishing tools and TypeScript see it.
  step('publint --strict');
  run(bin('publint'), ['run', tarball, '--strict'], { cwd: work });
  step('attw --profile esm-only');
  run(bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'ascii'], { cwd: work });

  // 3. A consumer: install, type-check with every declaration file checked, run.
  step('a consumer installs, type-checks and imports every export');
  const consumer = join(work, 'consumer');
  execFileSync('mkdir', ['-p', consumer]);
  const devTypes = manifest.devDependencies['@types/node'];
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { [manifest.name]: `file:${tarball}`, 'oidc-provider': manifest.peerDependencies['oidc-provider'], '@types/node': devTypes } }, null, 2),
  );
  writeFileSync(
    join(consumer, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: false, types: ['node'], outDir: 'out' }, include: ['consumer.ts'] }),
  );
  writeFileSync(
    join(consumer, 'consumer.ts'),
    [
      "import Provider from 'oidc-provider';",
      "import { tokenExchange, verifyWebhook, type TokenExchange } from 'oidc-provider-token-exchange';",
      "import { connectRedis } from 'oidc-provider-token-exchange/redis';",
      "import { createResourceServer } from 'oidc-provider-token-exchange/resource-server';",
      "import { impersonationBanner } from 'oidc-provider-token-exchange/banner';",
      "import type {} from 'oidc-provider-token-exchange/banner/element';",
      "const exchange: TokenExchange = tokenExchange({ accounts: { findAccount: async () => undefined } });",
      "const register: (provider: Provider) => void = exchange.register;",
      'console.log([typeof register, typeof verifyWebhook, typeof connectRedis, typeof createResourceServer, typeof impersonationBanner].join(" "));',
      '',
    ].join('\n'),
  );
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: consumer });
  if (!readdirSync(join(consumer, 'node_modules', '@types')).includes('oidc-provider')) problems.push('npm did not install the peer @types/oidc-provider');
  const compiled = run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', consumer]);
  const ran = compiled.status === 0 ? run(process.execPath, [join(consumer, 'out', 'consumer.js')], { cwd: consumer, env: { ...process.env, NODE_OPTIONS: '' } }) : { status: 1, stdout: '' };
  if (ran.status === 0 && ran.stdout.trim() !== 'function function function function function') problems.push(`the consumer printed ${ran.stdout.trim()}`);
} catch (err) {
  problems.push(err instanceof Error ? err.message : String(err));
} finally {
  rmSync(work, { recursive: true, force: true });
}

if (problems.length > 0) {
  process.stderr.write(`check-package: ${problems.length} problem(s)\n${problems.map((p) => `- ${p}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write('check-package: ok\n');
