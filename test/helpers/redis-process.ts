import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';

/*
 * redis-server processes the tests start, with node built-ins only (the jest global setup loads
 * this before any test module). Every process started here is unref'd, so it never keeps a jest
 * worker alive, and killed when the process that started it exits.
 */

export const HOST = '127.0.0.1';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every redis-server this process started and has not stopped: killed on exit as a safety net. */
const running = new Set<ChildProcess>();
/** Scratch directories (cluster node files) removed on exit. */
export const scratch = new Set<string>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** Whether `redis-server` is on PATH. */
export function requireRedisServerBinary(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** A port nothing listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Whether a Redis on `port` answers PING within `timeoutMs`. */
export function answersPing(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/** Spawns redis-server (no persistence) with `args` and waits (≤ 5 s) until it answers on `port`. */
export async function spawnRedis(port: number, args: string[], cwd = tmpdir()): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', HOST, ...args, '--save', '', '--appendonly', 'no'], { cwd, stdio: 'ignore' });
  child.unref();
  running.add(child);
  let exited = false;
  child.once('exit', () => {
    exited = true;
    running.delete(child);
  });
  child.once('error', () => {
    exited = true;
    running.delete(child);
  });
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline && !exited) {
    if (await answersPing(port)) return child;
    await sleep(50);
  }
  await killRedis(child);
  throw new Error(`redis-server on ${HOST}:${port} ${exited ? 'exited' : 'did not answer within 5 s'}`);
}

/** SIGTERM, then SIGKILL after 5 s; resolves once the process has exited. */
export async function killRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !running.has(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
