// Where the CPU of one request goes, step by step: `npm run -s build && node bench/profile.mjs [N=3000]`.
// Starts bench/profile-server.mjs (the reference server of bench/server.mjs, memory store unless
// REDIS_URL+PROFILE_REDIS=1, rate limits off) on 127.0.0.1 and for each scenario of bench/run.mjs:
// after a warm-up of N/4 requests of every scenario: N requests unprofiled, three times in turn (CPU
// µs/request of the server process from /proc, as bench/run.mjs measures it; the median), then N
// under the V8 sampling profiler (a sample every 500 µs).
// Each sample's time goes to the innermost frame of its stack that a STEP rule below names (so jose
// called from the audit record counts as the audit's, not the signature's: see the rule order),
// else to the leaf's own file. Prints, per scenario pair, µs/request by step for the exchange and
// its baseline, the process CPU with and without the profiler, and the top functions by self time;
// writes the raw .cpuprofile files to PROFILE_DIR (default /tmp/te-profiles) for Chrome DevTools.
// `node bench/profile.mjs bulk [N=10000]` profiles the bulk revocation of bench/bulk-revocation.mjs
// (Redis at REDIS_URL) instead: µs per revoked token by step.
// The profiler samples the main thread's stack on a wall-clock timer, so a thread preempted by other
// work still counts; few connections (default 2) keep the server's own load from doing that much, and
// the sum of samples is printed next to the process's CPU to show how close they came. Work on the
// libuv thread pool (the RSA signature of a JWT: WebCrypto runs it there) is in the process CPU
// but in no sample.
// Env: PROFILE_CONNECTIONS (default 2), PROFILE_ROUNDS (unprofiled measurements, median; default 3), PROFILE_SCENARIOS (comma-separated subset), PROFILE_JSON=file.
import autocannon from 'autocannon';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { FLOOR_GRANT } from './floor-grant.mjs';
import { BILLING, CONSOLE_AUTH, FORM, ORDERS, basic, deleteKeys, impersonationBody, signInSupport } from './lib.mjs';

/** The exchange's request, to its floor (bench/floor-grant.mjs). */
const floorBody = (actor, resource) => impersonationBody(actor, resource).replace(encodeURIComponent('urn:ietf:params:oauth:grant-type:token-exchange'), encodeURIComponent(FLOOR_GRANT));

const DIR = process.env.PROFILE_DIR ?? '/tmp/te-profiles';
const CONNECTIONS = Number(process.env.PROFILE_CONNECTIONS ?? 2);
const ROUNDS = Number(process.env.PROFILE_ROUNDS ?? 3);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
mkdirSync(DIR, { recursive: true });

// [step, test on the frame's url (and function name)], innermost match wins; order only breaks ties
// within one frame. Paths are those of dist/ (the compiled src/) and node_modules.
export const STEPS = [
  ['signing (jose sign)', (u, f) => u.includes('/jose/') && /sign|Sign/.test(u + f)],
  ['JWT/JWK (jose, other)', (u) => u.includes('/jose/')],
  ['client auth (provider)', (u) => /oidc-provider\/lib\/shared\/(client_auth|jwt_client_auth|attest_client_auth)/.test(u)],
  ['client-secret guard (ours)', (u) => u.includes('/dist/exchange/endpoint-guard.js')],
  ['exchange: parse request', (u) => /\/dist\/exchange\/(request|reason|dpop)\.js/.test(u)],
  ['exchange: actor verification', (u) => /\/dist\/exchange\/(verify|tokens|provider-lookup|act)\.js/.test(u)],
  ['exchange: policy', (u) => /\/dist\/exchange\/(checks|rules|admission|access|kinds|plan|targets|actor-profiles|rate-limit)\.js/.test(u)],
  ['account reads', (u) => /\/dist\/(server\/)?accounts\.js/.test(u)],
  ['exchange: the token (ours)', (u) => /\/dist\/exchange\/(issue|token-ids|keys)\.js/.test(u)],
  ['exchange: handler (rest)', (u) => /\/dist\/exchange\/(grant|attempt|record)\.js/.test(u)],
  ['audit record', (u) => u.includes('/dist/audit/') || u.includes('/dist/store/audit-')],
  ['webhooks', (u) => u.includes('/dist/webhooks/')],
  ['notices', (u) => u.includes('/dist/notify/')],
  ['metrics', (u) => u.includes('/dist/observability/metrics.js') || u.includes('/prom-client/')],
  ['logging', (u) => u.includes('/dist/observability/logger.js') || u.includes('/dist/server/observability.js') || /\/(pino|pino-std-serializers|sonic-boom|thread-stream)\//.test(u)],
  ['CSP nonce + headers (ours)', (u) => u.includes('/dist/web/')],
  ['JWT/ID token records, revocation feed (ours)', (u) => u.includes('/dist/lifecycle/')],
  ['store (adapter, memory/Redis)', (u) => u.includes('/dist/store/') || u.includes('/ioredis/') || u.includes('/redis-parser/')],
  ['extension glue (ours)', (u) => u.includes('/dist/extension.js') || u.includes('/dist/browser/') || u.includes('/dist/server/')],
  ['zod schemas', (u) => u.includes('/zod/')],
  ['provider: JWT format', (u) => u.includes('oidc-provider/lib/models/formats/')],
  ['provider: models (Grant, tokens, Client)', (u) => u.includes('oidc-provider/lib/models/')],
  ['provider: client_credentials grant', (u) => u.includes('oidc-provider/lib/actions/grants/client_credentials')],
  ['provider: introspection', (u) => u.includes('oidc-provider/lib/actions/introspection')],
  ['provider: token endpoint, params, other', (u) => u.includes('oidc-provider/lib/')],
  ['Koa / middleware', (u) => /\/(koa|koa-compose|@koa\/[^/]+|koa-router|raw-body|co-body|statuses|http-errors|cookies|keygrip|content-type|type-is|accepts)\//.test(u)],
];
const stepOf = (frame) => {
  const { url, functionName } = frame.callFrame;
  for (const [name, test] of STEPS) if (test(url, functionName)) return name;
  return undefined;
};
const leafBucket = (frame) => {
  const { url, functionName } = frame.callFrame;
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(program)') return 'V8/native (program)';
  if (url.startsWith('node:internal/crypto') || url === 'node:crypto') return 'Node crypto (unattributed)';
  if (url.startsWith('node:')) return 'Node http/streams/timers (unattributed)';
  if (!url) return `native: ${functionName || '(anonymous)'}`;
  return `other: ${url.replace(/^.*node_modules\//, '').split('/')[0]}`;
};

/** µs by step and self µs by function of one .cpuprofile, excluding (idle). */
export function aggregate(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stepCache = new Map();
  const resolve = (id) => {
    if (stepCache.has(id)) return stepCache.get(id);
    const node = byId.get(id);
    let step = stepOf(node);
    if (!step) {
      const p = parent.get(id);
      step = p === undefined ? null : resolve(p);
    }
    stepCache.set(id, step);
    return step;
  };
  const steps = new Map();
  const functions = new Map();
  const byStep = new Map();
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i += 1) {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const node = byId.get(profile.samples[i]);
    if (node.callFrame.functionName === '(idle)') continue;
    busy += dt;
    const step = resolve(node.id) ?? leafBucket(node);
    steps.set(step, (steps.get(step) ?? 0) + dt);
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || '(anonymous)'} ${url.replace(/^.*(node_modules|dist)\//, '$1/')}:${lineNumber + 1}`;
    functions.set(key, (functions.get(key) ?? 0) + dt);
    const inStep = (byStep.get(step) ?? byStep.set(step, new Map()).get(step));
    inStep.set(key, (inStep.get(key) ?? 0) + dt);
  }
  return { busy, steps, functions, byStep };
}

function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
const cpuTicks = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
};

async function startServer(env) {
  const port = await freePort();
  const child = spawn(process.execPath, ['bench/profile-server.mjs'], { env: { ...process.env, ...env, PORT: String(port), NODE_OPTIONS: '' }, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const waiting = [];
  lines.on('line', (line) => {
    if (line.startsWith('{')) waiting.shift()?.(JSON.parse(line));
  });
  const next = () => new Promise((resolve) => waiting.push(resolve));
  await next(); // {"ready":true}
  const command = async (line) => {
    const answer = next();
    child.stdin.write(`${line}\n`);
    return answer;
  };
  return { base: `http://127.0.0.1:${port}`, pid: child.pid, child, command };
}

async function drive(base, spec, amount) {
  const result = await autocannon({ url: base, connections: CONNECTIONS, amount, requests: [{ method: 'POST', path: spec.path, headers: { authorization: spec.auth, 'content-type': FORM }, body: spec.body }] });
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad) throw new Error(`${bad} failed requests`);
  return result.requests.total;
}

async function post(base, path, body, auth) {
  const response = await fetch(`${base}${path}`, { method: 'POST', headers: { authorization: auth, 'content-type': FORM }, body: new URLSearchParams(body) });
  const json = await response.json();
  if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

const fmt = (us) => (us >= 9.5 ? Math.round(us).toLocaleString('en') : us.toFixed(1));

function printPair(title, columns) {
  const names = new Set(columns.flatMap((c) => [...c.agg.steps.keys()]));
  const rows = [...names].map((name) => ({ name, values: columns.map((c) => (c.agg.steps.get(name) ?? 0) / c.requests) }));
  rows.sort((a, b) => b.values[0] - a.values[0] || b.values[1] - a.values[1]);
  // The profiler's own cost lands on whatever runs when it samples: each step's samples are scaled by
  // (process CPU unprofiled / process CPU profiled) into an estimate of its µs without the profiler.
  const scale = columns.map((c) => (Number.isFinite(c.cpu) ? c.cpu / c.cpuProfiled : 1));
  const out = [
    `\n${title}\n`,
    `| step: µs per request, estimated (raw samples) | ${columns.map((c) => c.name).join(' | ')} |`,
    `| --- |${columns.map(() => ' ---: |').join('')}`,
  ];
  for (const r of rows) if (r.values.some((v) => v >= 1)) out.push(`| ${r.name} | ${r.values.map((v, i) => `${fmt(v * scale[i])} (${fmt(v)})`).join(' | ')} |`);
  out.push(`| **sum of samples** | ${columns.map((c, i) => `**${fmt((c.agg.busy / c.requests) * scale[i])}** (${fmt(c.agg.busy / c.requests)})`).join(' | ')} |`);
  out.push(`| process CPU, profiled (/proc: all threads) | ${columns.map((c) => fmt(c.cpuProfiled)).join(' | ')} |`);
  out.push(`| process CPU, not profiled (/proc, as bench/run.mjs) | ${columns.map((c) => fmt(c.cpu)).join(' | ')} |`);
  process.stdout.write(`${out.join('\n')}\n`);
  for (const c of columns) {
    const top = [...c.agg.functions.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.PROFILE_TOP ?? 15));
    process.stdout.write(`\ntop self time, ${c.name} (raw µs/request): ${top.map(([f, t]) => `\n  ${fmt(t / c.requests).padStart(6)}  ${f}`).join('')}\n`);
  }
}

async function requests(n) {
  const env = process.env.PROFILE_REDIS === '1' ? { REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/9', REDIS_PREFIX: `bench:${randomUUID()}:` } : { REDIS_URL: '' };
  const server = await startServer(env);
  const results = {};
  try {
    const actor = await signInSupport(server.base);
    const plain = basic('plain-client', 'plain-client-secret');
    const cc = (resource) => new URLSearchParams({ grant_type: 'client_credentials', resource }).toString();
    const tokens = {
      cc: (await post(server.base, '/token', { grant_type: 'client_credentials', resource: BILLING }, plain)).access_token,
      imp: (await post(server.base, '/token', Object.fromEntries(new URLSearchParams(impersonationBody(actor, BILLING))), CONSOLE_AUTH)).access_token,
      floor: (await post(server.base, '/token', Object.fromEntries(new URLSearchParams(floorBody(actor, BILLING))), CONSOLE_AUTH)).access_token,
    };
    const api = basic('orders-api', 'orders-api-secret');
    const scenarios = {
      'client_credentials jwt': { path: '/token', auth: plain, body: cc(ORDERS) },
      'exchange jwt': { path: '/token', auth: CONSOLE_AUTH, body: impersonationBody(actor, ORDERS) },
      'client_credentials opaque': { path: '/token', auth: plain, body: cc(BILLING) },
      'exchange opaque': { path: '/token', auth: CONSOLE_AUTH, body: impersonationBody(actor, BILLING) },
      'floor opaque': { path: '/token', auth: CONSOLE_AUTH, body: floorBody(actor, BILLING) },
      'floor jwt': { path: '/token', auth: CONSOLE_AUTH, body: floorBody(actor, ORDERS) },
      'introspect client_credentials': { path: '/token/introspection', auth: api, body: new URLSearchParams({ token: tokens.cc }).toString() },
      'introspect impersonation': { path: '/token/introspection', auth: api, body: new URLSearchParams({ token: tokens.imp }).toString() },
      'floor introspect': { path: '/token/introspection', auth: api, body: new URLSearchParams({ token: tokens.floor }).toString() },
    };
    const only = process.env.PROFILE_SCENARIOS?.split(',');
    const chosen = Object.entries(scenarios).filter(([name]) => !only || only.includes(name));
    for (const [, spec] of chosen) await drive(server.base, spec, Math.ceil(n / 4)); // warm-up (JIT) of every path first
    // Unprofiled CPU: ROUNDS rounds over every scenario in turn (a baseline and its exchange are
    // measured minutes apart at most, under the same load), the median of each.
    const cpuRuns = Object.fromEntries(chosen.map(([name]) => [name, []]));
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const [name, spec] of chosen) {
        const t0 = cpuTicks(server.pid);
        const done = await drive(server.base, spec, n);
        cpuRuns[name].push((((cpuTicks(server.pid) - t0) / CLK_TCK) * 1e6) / done);
      }
    }
    for (const [name, spec] of chosen) {
      const cpu = median(cpuRuns[name]);
      const file = `${DIR}/${name.replace(/\W+/g, '-')}.cpuprofile`;
      await server.command(`start ${file}`);
      const profiled = await drive(server.base, spec, n);
      const { cpuUs } = await server.command('stop');
      results[name] = { name, requests: profiled, cpu, cpuProfiled: cpuUs / profiled, agg: aggregate(JSON.parse(readFileSync(file, 'utf8'))), file };
      process.stderr.write(`  ${name}: ${Math.round(cpu)} µs/request [${cpuRuns[name].map(Math.round).join(', ')}] (profiled ${Math.round(cpuUs / profiled)})\n`);
    }
  } finally {
    server.child.kill('SIGTERM');
    if (server.child.exitCode === null) await once(server.child, 'exit');
    if (env.REDIS_PREFIX) deleteKeys(env.REDIS_URL, env.REDIS_PREFIX);
  }
  process.stdout.write(`CPU profile, ${n} requests per scenario, ${CONNECTIONS} connections, ${env.REDIS_PREFIX ? 'Redis' : 'memory'} store, node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, ${new Date().toISOString()}\n`);
  // The exchange, its floor (bench/floor-grant.mjs) and the provider's own grant, side by side.
  for (const group of [['exchange jwt', 'floor jwt', 'client_credentials jwt'], ['exchange opaque', 'floor opaque', 'client_credentials opaque'], ['introspect impersonation', 'floor introspect', 'introspect client_credentials']]) {
    const present = group.filter((name) => results[name]);
    if (present.length) printPair(present.join(' vs '), present.map((name) => results[name]));
  }
  if (process.env.PROFILE_JSON) {
    writeFileSync(process.env.PROFILE_JSON, JSON.stringify(Object.fromEntries(Object.entries(results).map(([k, r]) => [k, { cpu: r.cpu, cpuProfiled: r.cpuProfiled, requests: r.requests, busy: r.agg.busy, steps: Object.fromEntries(r.agg.steps) }])), null, 2));
  }
}

async function bulk(n) {
  const file = `${DIR}/bulk-revocation.cpuprofile`;
  const run = (env) => {
    const output = execFileSync(process.execPath, ['bench/bulk-revocation.mjs', String(n), 'opaque'], { env: { ...process.env, NODE_OPTIONS: '', ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    return JSON.parse(output.slice(output.indexOf('{')));
  };
  const plain = run({}).bulkRevocation;
  const profiled = run({ BENCH_PROFILE: file }).bulkRevocation;
  const agg = aggregate(JSON.parse(readFileSync(file, 'utf8')));
  process.stdout.write(`CPU profile of bulk revocation, ${n} tokens, node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}: unprofiled ${JSON.stringify(plain)}, profiled ${JSON.stringify(profiled)}\n`);
  printPair('bulk revocation (per revoked token)', [{ name: 'bulk revocation', requests: profiled.revoked, agg, cpu: plain.cpuUs / plain.revoked, cpuProfiled: profiled.cpuUs / profiled.revoked }]);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv[2] === 'bulk') await bulk(Number(process.argv[3] ?? 10_000));
  else await requests(Number(process.argv[2] ?? 3000));
}
