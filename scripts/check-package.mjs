// What `npm publish` would ship, checked before anyone publishes it (CI: `npm run check:package`):
//  1. `npm pack` (its prepack builds dist/) lists the files: the library and its types, README,
//     LICENSE, CHANGELOG and docs/ (so every link of the shipped README and docs resolves inside the
//     tarball); no sources, tests, examples, reference server, fixtures or source maps; no demo
//     secret in any shipped file but the documentation;
//  2. publint (strict) and @arethetypeswrong/cli (ESM-only profile) on that tarball: the exports map
//     resolves, with types, for ".", "./redis", "./resource-server", "./banner", "./banner/element";
//  3. a consumer project installs the tarball beside oidc-provider with a strict layout (npm's
//     `install-strategy=linked`: a package reaches only what it declares; npm installs the peers),
//     type-checks a file importing every export with the libraries' declarations checked (no TS7016
//     inside ours), and runs it with Node;
//  4. in that project, the README's "Add it to your own provider" file as pasted (server.ts) and the
//     Express API of docs/resource-server.md as pasted run, and the own-provider example's driver
//     signs the agent in, exchanges the token for alice, introspects it and calls the API with it.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkFile, documents } from './check-links.mjs';

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

const children = [];

function freePort() {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Starts the Express API (api.ts) against the issuer main.js starts (server.ts), runs the driver, checks its answer. */
async function embedded(consumer) {
  const [providerPort, apiPort] = [await freePort(), await freePort()];
  const env = { ...process.env, NODE_OPTIONS: '', ISSUER: `http://localhost:${providerPort}`, PORT: String(apiPort) };
  const api = spawn(process.execPath, [join(consumer, 'out', 'api.js')], { cwd: consumer, env, stdio: ['ignore', 'inherit', 'inherit'] });
  children.push(api);
  const driver = run(process.execPath, [join(consumer, 'out', 'main.js')], {
    cwd: consumer,
    env: { ...env, PORT: String(providerPort), API_URL: `http://127.0.0.1:${apiPort}` },
    timeout: 30_000,
  });
  const answer = driver.status === 0 ? JSON.parse(driver.stdout.slice(driver.stdout.indexOf('{'))) : undefined;
  const api200 = answer?.api?.status === 200 && answer.api.body?.subject === 'alice' && JSON.stringify(answer.api.body.actor).includes('agent-7');
  if (driver.status === 0 && !api200) problems.push(`the Express API answered ${JSON.stringify(answer?.api)}`);
  if (driver.status === 0) process.stdout.write(`  exchanged for alice (act.sub ${answer.introspection.act.sub}); the API answered ${answer.api.status} ${JSON.stringify(answer.api.body)}\n`);
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
  const required = ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'docs/README.md', 'docs/screenshots/journey-2-impersonate-dialog.png', ...new Set(exportTargets(manifest.exports))];
  for (const path of required) if (!paths.includes(path)) problems.push(`the package lacks ${path}`);
  const forbidden = [
    [/^(src|test|examples|bench|scripts|config|\.ci)\//, 'sources, tests, examples, scripts and fixtures stay in the repository'],
    [/^dist\/server\//, 'the reference server (demo accounts and secrets) is not part of the library'],
    [/\.map$/, 'source maps would point at sources that are not shipped'],
    [/\.test\.|__tests__/, 'no tests'],
  ];
  for (const path of paths) {
    for (const [pattern, why] of forbidden) if (pattern.test(path)) problems.push(`the package ships ${path}: ${why}`);
    // A file of dist/ whose source is gone (a module moved or renamed) is a stale build left behind.
    const source = /^dist\/(.+?)(\.d)?\.js$|^dist\/(.+?)\.d\.ts$/.exec(path);
    const stem = source && (source[1] ?? source[3]);
    if (stem && !existsSync(join(root, 'src', `${stem}.ts`)) && !existsSync(join(root, 'src', `${stem}.js`))) {
      problems.push(`the package ships ${path}, built from no file of src/ (a stale build: npm run build starts from an empty dist/)`);
    }
  }
  execFileSync('tar', ['-xzf', tarball, '-C', work]);
  const shipped = join(work, 'package');
  const walk = (dir) => readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? walk(join(dir, name)) : [join(dir, name)]));
  for (const file of walk(shipped)) {
    if (file.endsWith('.md') || file.endsWith('.png')) continue; // the documentation names the demo's passwords
    const text = readFileSync(file, 'utf8');
    for (const secret of ['demo-password', 'support-console-secret', 'orders-api-secret', 'scrypt$']) {
      if (text.includes(secret)) problems.push(`${file.slice(shipped.length + 1)} contains the demo secret ${secret}`);
    }
  }
  // A reader of the README on the registry or in node_modules follows its links inside the tarball.
  for (const file of documents(shipped)) problems.push(...checkFile(shipped, file).map((p) => `in the tarball: ${p}`));
  process.stdout.write(`  ${paths.length} files, ${(size / 1024).toFixed(1)} kB packed, ${(unpackedSize / 1024).toFixed(1)} kB unpacked\n`);

  // 2. The exports map, as publishing tools and TypeScript see it.
  step('publint --strict');
  run(bin('publint'), ['run', tarball, '--strict'], { cwd: work });
  step('attw --profile esm-only');
  run(bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'ascii'], { cwd: work });

  // 3. A consumer: install, type-check with every declaration file checked, run.
  step('a consumer installs the tarball with a strict layout (install-strategy=linked), type-checks and imports every export');
  const consumer = join(work, 'consumer');
  execFileSync('mkdir', ['-p', consumer]);
  const devTypes = manifest.devDependencies['@types/node'];
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: {
      [manifest.name]: `file:${tarball}`,
      'oidc-provider': manifest.peerDependencies['oidc-provider'],
      '@types/oidc-provider': manifest.peerDependencies['@types/oidc-provider'],
      '@types/node': devTypes,
      // what the README's server.ts, the Express example and the example's driver import themselves
      jose: manifest.dependencies.jose,
      'openid-client': manifest.dependencies['openid-client'],
      express: manifest.devDependencies.express,
      '@types/express': manifest.devDependencies['@types/express'],
    } }, null, 2),
  );
  writeFileSync(
    join(consumer, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: false, types: ['node'], outDir: 'out' }, include: ['*.ts'] }),
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
  // 4. The README's own provider and the toolkit's Express API, as pasted, plus the example's driver.
  const block = (file, marker) => {
    const text = readFileSync(join(root, file), 'utf8');
    const found = new RegExp(`<!-- example: ${marker} -->\\n\`\`\`ts\\n([\\s\\S]*?)\`\`\`\\n`).exec(text)?.[1];
    if (!found) problems.push(`${file} has no block marked ${marker}`);
    return found ?? '';
  };
  writeFileSync(join(consumer, 'server.ts'), block('README.md', 'examples/own-provider/server.ts'));
  writeFileSync(join(consumer, 'api.ts'), block('docs/resource-server.md', 'examples/resource-server/express.ts'));
  for (const name of ['main.ts', 'sign-in.ts']) copyFileSync(join(root, 'examples', 'own-provider', name), join(consumer, name));

  run('npm', ['install', '--install-strategy=linked', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: consumer });
  const compiled = run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', consumer]);
  const ran = compiled.status === 0 ? run(process.execPath, [join(consumer, 'out', 'consumer.js')], { cwd: consumer, env: { ...process.env, NODE_OPTIONS: '' } }) : { status: 1, stdout: '' };
  if (ran.status === 0 && ran.stdout.trim() !== 'function function function function function') problems.push(`the consumer printed ${ran.stdout.trim()}`);

  if (compiled.status === 0) {
    step('the README\'s server.ts and the Express API, as pasted: sign in, exchange, introspect, call the API');
    await embedded(consumer);
  }
} catch (err) {
  problems.push(err instanceof Error ? err.message : String(err));
} finally {
  for (const child of children) child.kill();
  if (!process.env.KEEP_WORK) rmSync(work, { recursive: true, force: true }); else process.stdout.write(`kept ${work}\n`);
}

if (problems.length > 0) {
  process.stderr.write(`check-package: ${problems.length} problem(s)\n${problems.map((p) => `- ${p}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write('check-package: ok\n');
