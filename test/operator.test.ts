import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { impersonate, startTestServer } from './helpers/server.js';

/** What an operator meets first: `npm start`, its configuration errors, the audit CLI, `demo:login`. */

const ENV = { ...process.env, NODE_OPTIONS: '' };

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

const exited = (child: ChildProcess) => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => child.once('exit', () => resolve())));

describe('npm start', () => {
  let npm: ChildProcess;
  let output = '';
  let ports: { provider: number; demo: number; orders: number };

  beforeAll(async () => {
    ports = { provider: await freePort(), demo: await freePort(), orders: await freePort() };
    npm = spawn('npm', ['start'], {
      env: { ...ENV, PORT: String(ports.provider), DEMO_APP_PORT: String(ports.demo), ORDERS_API_PORT: String(ports.orders) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, ended as a whole in afterAll whatever happens
    });
    npm.stdout!.on('data', (chunk) => (output += chunk));
    npm.stderr!.on('data', (chunk) => (output += chunk));
    for (let i = 0; i < 300 && !output.includes('Stop: Ctrl-C'); i += 1) {
      if (npm.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (!output.includes('Stop: Ctrl-C')) throw new Error(`npm start did not start: ${output}`);
  }, 40_000);
  afterAll(() => {
    try {
      process.kill(-npm.pid!, 'SIGKILL');
    } catch {
      // already gone, as it should be
    }
  });

  it('prints where to go next, once, as plain lines', () => {
    const issuer = `http://localhost:${ports.provider}`;
    const lines = output.split('\n');
    for (const expected of [
      `  Issuer           ${issuer}`,
      `  Support console  ${issuer}/admin`,
      `  Account page     ${issuer}/account/impersonations`,
      `  Demo app         http://localhost:${ports.demo}`,
      `  Orders API       http://localhost:${ports.orders}/orders`,
      `    ACTOR=$(ISSUER=${issuer} npm run -s demo:login -- support demo-password)`,
    ]) {
      expect(lines.filter((line) => line.startsWith(expected))).toHaveLength(1);
    }
    expect(lines.filter((line) => line.startsWith(`  Metrics          ${issuer}/metrics `) && line.endsWith('   bearer demo-metrics-token (demo: set METRICS_TOKEN)'))).toHaveLength(1);
  });

  it('answers /metrics only with the documented demo bearer token when METRICS_TOKEN is unset', async () => {
    const refused = await fetch(`http://127.0.0.1:${ports.provider}/metrics`);
    expect([refused.status, refused.headers.get('www-authenticate')]).toEqual([401, 'Bearer realm="metrics"']);
    const scraped = await fetch(`http://127.0.0.1:${ports.provider}/metrics`, { headers: { authorization: 'Bearer demo-metrics-token' } });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toMatch(/^impersonations_live \d+$/m);
  });

  it('stops the server when npm is stopped by its PID', async () => {
    expect(await accepts(ports.provider)).toBe(true);
    npm.kill('SIGTERM');
    await exited(npm);
    let open = true;
    for (let i = 0; i < 50 && open; i += 1) {
      open = (await Promise.all([ports.provider, ports.demo, ports.orders].map(accepts))).some(Boolean);
      if (open) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(open).toBe(false);
  });
});

describe('configuration errors at start-up', () => {
  it('exit 1 naming the file and the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-'));
    try {
      for (const name of ['accounts.json', 'clients.json']) copyFileSync(join('config', name), join(dir, name));
      const settings = JSON.parse(readFileSync('config/impersonation.json', 'utf8'));
      settings.policy.maxLifetimeSeconds = 7200;
      writeFileSync(join(dir, 'impersonation.json'), JSON.stringify(settings));
      const run = spawnSync(process.execPath, ['dist/server/main.js'], { env: { ...ENV, CONFIG_DIR: dir, PORT: '0', DEMO_APP_PORT: 'off', ORDERS_API_PORT: 'off' }, encoding: 'utf8' });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain(`${dir}/impersonation.json: policy.maxLifetimeSeconds: must be at most 3600 seconds (the hard maximum of an impersonation)\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exit 1 naming TRUST_PROXY when it is not a number of proxies', () => {
    const run = spawnSync(process.execPath, ['dist/server/main.js'], { env: { ...ENV, TRUST_PROXY: 'yes', PORT: '0', DEMO_APP_PORT: 'off', ORDERS_API_PORT: 'off' }, encoding: 'utf8', timeout: 15_000 });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('TRUST_PROXY: must be the number of proxies in front (0, 1, 2, …), not "yes"\n');
  });

  it('exit 1 naming METRICS_TOKEN when it is shorter than 16 characters', () => {
    const run = spawnSync(process.execPath, ['dist/server/main.js'], { env: { ...ENV, METRICS_TOKEN: 'short', PORT: '0', DEMO_APP_PORT: 'off', ORDERS_API_PORT: 'off' }, encoding: 'utf8', timeout: 15_000 });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('METRICS_TOKEN: must be at least 16 visible ASCII characters\n');
  });

  it('name the file relative to the working directory, as it was given', () => {
    const run = spawnSync(process.execPath, ['dist/server/main.js'], { env: { ...ENV, CONFIG_DIR: 'no-such-config', PORT: '0', DEMO_APP_PORT: 'off', ORDERS_API_PORT: 'off' }, encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^no-such-config\/(accounts|clients|impersonation)\.json: no such file$/m);
  });
});

describe('the audit CLI', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, ['dist/server/audit-cli.js', ...args], { env: ENV, encoding: 'utf8' });

  it('prints its usage for --help and exits 0', () => {
    const run = cli('--help');
    expect([run.status, run.stderr]).toEqual([0, '']);
    expect(run.stdout).toMatch(/^usage:\n {2}npm run -s audit -- export/);
  });

  it('says a file is missing instead of a bare ENOENT', () => {
    const run = cli('verify', '--file', 'no-such-export.jsonl');
    expect([run.status, run.stdout, run.stderr]).toEqual([2, '', 'cannot read no-such-export.jsonl: no such file\n']);
  });

  it('says where an in-memory audit log is verified when no Redis is given', () => {
    const run = cli('verify');
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('no audit log to read: set REDIS_URL or REDIS_CLUSTER_NODES');
    expect(run.stderr).toContain('/admin/audit ("Verify the chain")');
  });
});

describe('demo:login', () => {
  it('says that no provider answers, and how to start one', async () => {
    const issuer = `http://127.0.0.1:${await freePort()}`;
    const run = spawnSync(process.execPath, ['dist/server/login-cli.js', 'support'], { env: { ...ENV, ISSUER: issuer }, encoding: 'utf8' });
    expect([run.status, run.stdout, run.stderr]).toEqual([1, '', `no provider answers at ${issuer} (ECONNREFUSED): start it with \`npm start\` in another terminal, or set ISSUER to where it runs\n`]);
  });
});

describe('LOG_LEVEL=debug', () => {
  it('logs why a token request was refused, which the client never sees', async () => {
    const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
    const at = (level: string) => (fields: Record<string, unknown>, message: string) => void lines.push({ level, fields, message });
    const logger = { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
    const server = await startTestServer({ logger });
    try {
      const support = (await server.signIn('support')).access_token;
      const refused = await server.exchange(impersonate(support, 'alice', { scope: 'phone' }));
      expect(refused.body.error_description).toBe("the client's registered scope holds none of the requested scopes");
      expect(lines.filter((line) => line.level === 'debug')).toEqual([
        {
          level: 'debug',
          message: 'token request refused',
          fields: { path: '/token', error: 'invalid_scope', detail: expect.stringMatching(/^scope_empty: requested phone; client openid profile email orders:read/) },
        },
      ]);
    } finally {
      await server.close();
    }
  });
});
