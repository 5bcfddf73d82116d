import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';

// Jest loads this file and global-teardown.ts with Node's own resolver: they import node built-ins only.

/**
 * The variable every process of a test run inherits (workers, and through them redis-server,
 * reference servers, browsers); its value is unique to the run, so the teardown finds leftovers.
 */
export const RUN_MARKER = 'OIDC_TOKEN_EXCHANGE_TEST_RUN';

/** What the global teardown needs from the setup (jest runs both in its main process). */
export interface TestRun {
  readonly markerName: string;
  readonly marker: string;
  redis: ChildProcess | undefined;
}

const HOST = '127.0.0.1';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk) => done(chunk.toString().startsWith('+PONG')));
  });
}

/** One redis-server for the whole run: no persistence, a free port, stopped by the teardown. */
async function startRunRedis(): Promise<{ child: ChildProcess; url: string }> {
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
    throw new Error('the tests start a redis-server of their own and it is not on PATH: install it (apt-get install redis-server), or set TEST_REDIS_URL to a Redis database they may use');
  }
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no'], { cwd: tmpdir(), stdio: 'ignore' });
  child.unref();
  process.on('exit', () => child.kill('SIGKILL'));
  for (let i = 0; i < 100 && child.exitCode === null; i += 1) {
    if (await answersPing(port)) return { child, url: `redis://${HOST}:${port}/0` };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`the tests' redis-server on ${HOST}:${port} did not answer within 5 s`);
}

/**
 * Once per `npm test`:
 * - builds dist/ (tests that run the CLI or spawn reference-server processes use it) and the
 *   own-provider example;
 * - marks the environment every process of the run inherits, so the teardown finds leftovers;
 * - removes REDIS_URL, REDIS_CLUSTER_NODES and REDIS_PREFIX from it: no test, and no server a test
 *   spawns, reaches the Redis a developer points the reference server at;
 * - unless TEST_REDIS_URL names a Redis to use, starts one redis-server for the whole run and sets
 *   TEST_REDIS_URL to it. It starts in milliseconds, and the tests never write into a Redis they did
 *   not start (the one on 127.0.0.1:6379 may hold someone's data).
 */
export default async function globalSetup(): Promise<void> {
  for (const project of ['tsconfig.build.json', 'tsconfig.browser.json']) {
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', project], { stdio: 'inherit' });
  }
  // The own-provider example, compiled as a consumer would (against dist/); `npm run example` also checks the libraries' declarations.
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'examples/own-provider/tsconfig.json', '--skipLibCheck'], { stdio: 'inherit' });
  const run: TestRun = { markerName: RUN_MARKER, marker: randomUUID(), redis: undefined };
  process.env[RUN_MARKER] = run.marker;
  for (const name of ['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_PREFIX']) delete process.env[name];
  if (!process.env.TEST_REDIS_URL) {
    const { child, url } = await startRunRedis();
    run.redis = child;
    process.env.TEST_REDIS_URL = url;
  }
  (globalThis as { __tokenExchangeTestRun?: TestRun }).__tokenExchangeTestRun = run;
}
