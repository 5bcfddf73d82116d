// `npm run bench`: the token exchange against the provider's own grants, in one run.
// Starts bench/server.mjs (the reference server, dist/) in its own process on 127.0.0.1 for each
// configuration, drives it with autocannon from this process for a bounded time per scenario, and
// reads the server's CPU time and peak RSS from /proc. Prints a table with ratios to the baseline
// measured in the same run, then each target (a goal, met or not yet), and writes bench-results.json.
// Targets are goals, not a test: the bench exits 0 whether they are met or not (docs/performance.md).
// The revocation feed's rows come from bench/revocation-feed.mjs (about 40 s), the activity receipts'
// from bench/receipts.mjs (its own processes, BENCH_SECONDS per run, 3 rounds: about 35 s at 5 s).
// Env: BENCH_SECONDS (seconds per scenario, default 5; 1 for a quick look at the output),
// BENCH_CONNECTIONS (default 8), REDIS_URL (default redis://127.0.0.1:6379/9).
import autocannon from 'autocannon';
import { spawn, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { FLOOR_GRANT } from './floor-grant.mjs';
import { BILLING, CONSOLE_AUTH, FORM, ORDERS, basic, deleteKeys, impersonationBody, signInSupport } from './lib.mjs';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/9';
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function cpuTicks(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14, 15 of stat)
}

function peakRssMb(pid) {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : 0;
}

async function startServer(env) {
  const port = await freePort();
  const child = spawn(process.execPath, ['bench/server.mjs'], { env: { ...process.env, ...env, PORT: String(port), NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr.on('data', (chunk) => (output += chunk));
  const pids = await new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${output}`)), 30_000);
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      const line = buffer.split('\n').find((l) => l.startsWith('{"ready"'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line).pids);
      }
    });
    child.once('exit', () => reject(new Error(`server exited: ${output}`)));
  });
  return { base: `http://127.0.0.1:${port}`, pids, child };
}

async function stopServer(server) {
  server.child.kill('SIGTERM');
  if (server.child.exitCode === null) await once(server.child, 'exit');
}

async function post(base, path, body, auth) {
  const response = await fetch(`${base}${path}`, { method: 'POST', headers: { authorization: auth, 'content-type': FORM }, body: new URLSearchParams(body) });
  const json = await response.json();
  if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

function scenarios(base, actor, tokens) {
  const plain = basic('plain-client', 'plain-client-secret');
  const api = basic('orders-api', 'orders-api-secret');
  const exchange = (resource) => impersonationBody(actor, resource);
  // The same request to the exchange's floor (bench/floor-grant.mjs): the provider's share alone.
  const floor = (resource) => exchange(resource).replace(encodeURIComponent(TOKEN_EXCHANGE), encodeURIComponent(FLOOR_GRANT));
  const cc = (resource) => new URLSearchParams({ grant_type: 'client_credentials', resource }).toString();
  return {
    'client_credentials jwt': { path: '/token', auth: plain, body: cc(ORDERS) },
    'exchange jwt': { path: '/token', auth: CONSOLE_AUTH, body: exchange(ORDERS), baseline: 'client_credentials jwt' },
    'floor jwt': { path: '/token', auth: CONSOLE_AUTH, body: floor(ORDERS), baseline: 'client_credentials jwt' },
    'client_credentials opaque': { path: '/token', auth: plain, body: cc(BILLING) },
    'exchange opaque': { path: '/token', auth: CONSOLE_AUTH, body: exchange(BILLING), baseline: 'client_credentials opaque' },
    'floor opaque': { path: '/token', auth: CONSOLE_AUTH, body: floor(BILLING), baseline: 'client_credentials opaque' },
    'introspect client_credentials': { path: '/token/introspection', auth: api, body: new URLSearchParams({ token: tokens.cc }).toString() },
    'introspect impersonation': { path: '/token/introspection', auth: api, body: new URLSearchParams({ token: tokens.imp }).toString(), baseline: 'introspect client_credentials' },
    // A token of the floor grant: like the exchange's, it stands on a grant of its own, which the provider's introspection reads.
    'floor introspect': { path: '/token/introspection', auth: api, body: new URLSearchParams({ token: tokens.floor }).toString(), baseline: 'introspect client_credentials' },
  };
}

async function measure(server, scenario) {
  const request = { method: 'POST', path: scenario.path, headers: { authorization: scenario.auth, 'content-type': FORM }, body: scenario.body };
  await autocannon({ url: server.base, connections: CONNECTIONS, duration: 1, requests: [request] }); // warm-up
  const before = server.pids.reduce((sum, pid) => sum + cpuTicks(pid), 0);
  const result = await autocannon({ url: server.base, connections: CONNECTIONS, duration: SECONDS, requests: [request] });
  const after = server.pids.reduce((sum, pid) => sum + cpuTicks(pid), 0);
  const requests = result.requests.total;
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuUsPerRequest: Math.round((((after - before) / CLK_TCK) * 1e6) / Math.max(1, requests)),
    errors: result.non2xx + result.errors + result.timeouts,
    requests,
  };
}

async function runConfiguration(name, env, only) {
  const server = await startServer(env);
  try {
    const actor = await signInSupport(server.base);
    const tokens = { cc: (await post(server.base, '/token', { grant_type: 'client_credentials', resource: BILLING }, basic('plain-client', 'plain-client-secret'))).access_token };
    const exchangeOpaque = scenarios(server.base, actor, tokens)['exchange opaque'];
    tokens.imp = (await post(server.base, '/token', Object.fromEntries(new URLSearchParams(exchangeOpaque.body)), exchangeOpaque.auth)).access_token;
    const floorOpaque = scenarios(server.base, actor, tokens)['floor opaque'];
    tokens.floor = (await post(server.base, '/token', Object.fromEntries(new URLSearchParams(floorOpaque.body)), floorOpaque.auth)).access_token;
    const results = {};
    for (const [scenario, spec] of Object.entries(scenarios(server.base, actor, tokens))) {
      if (only && !only.includes(scenario)) continue;
      results[scenario] = await measure(server, spec);
      process.stderr.write(`  ${name} / ${scenario}: ${results[scenario].rps} req/s\n`);
    }
    const peakRss = Math.round(server.pids.reduce((sum, pid) => sum + peakRssMb(pid), 0));
    return { name, results, peakRssMb: peakRss };
  } finally {
    await stopServer(server);
  }
}

async function bulkRevocation() {
  const output = execFileSync(process.execPath, ['bench/bulk-revocation.mjs', '10000', 'opaque'], { env: { ...process.env, NODE_OPTIONS: '', REDIS_URL }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return JSON.parse(output.slice(output.indexOf('{')));
}

function roundTrips() {
  const output = execFileSync(process.execPath, ['bench/commands-per-request.mjs', '200'], { env: { ...process.env, NODE_OPTIONS: '', REDIS_URL }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return JSON.parse(output.slice(output.indexOf('{')));
}

function browserJourney(store) {
  const output = execFileSync(process.execPath, ['bench/browser-journey.mjs', '200', store], { env: { ...process.env, NODE_OPTIONS: '', REDIS_URL }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return JSON.parse(output.slice(output.indexOf('{')));
}

function revocationFeed() {
  const output = execFileSync(process.execPath, ['bench/revocation-feed.mjs', '30'], { env: { ...process.env, NODE_OPTIONS: '', REDIS_URL }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return JSON.parse(output.slice(output.indexOf('{')));
}

function activityReceipts() {
  const output = execFileSync(process.execPath, ['bench/receipts.mjs'], { env: { ...process.env, NODE_OPTIONS: '', BENCH_ROUNDS: '3' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return JSON.parse(output.slice(output.indexOf('{')));
}

const prefix = () => `bench:${randomUUID()}:`;
const configurations = [
  ['memory, 1 process', {}],
  ['redis, 1 process', { REDIS_URL, REDIS_PREFIX: prefix() }],
  ['redis, 2 workers', { REDIS_URL, REDIS_PREFIX: prefix(), WORKERS: '2' }],
  ['redis, audit in memory', { REDIS_URL, REDIS_PREFIX: prefix(), AUDIT: 'memory' }, ['exchange jwt', 'exchange opaque']],
];

const started = Date.now();
process.stderr.write(`bench: ${SECONDS} s per scenario (set BENCH_SECONDS=1 for a quick look), ${CONNECTIONS} connections; results at the end, and in bench-results.json\n`);
const runs = [];
for (const [name, env, only] of configurations) {
  process.stderr.write(`${name}\n`);
  runs.push(await runConfiguration(name, env, only));
  if (env.REDIS_PREFIX) deleteKeys(REDIS_URL, env.REDIS_PREFIX);
}
process.stderr.write('bulk revocation of 10,000 tokens\n');
const bulk = await bulkRevocation();
process.stderr.write('commands and round trips per request (standalone Redis)\n');
const perRequest = roundTrips();
process.stderr.write('browser impersonation: ticket mint + redemption\n');
const journeys = [browserJourney('memory'), browserJourney('redis')];
process.stderr.write('revocation feed: revocation → refusal, local verification with the feed on and off\n');
const feed = revocationFeed();
process.stderr.write('activity receipts: an API without and with receipts\n');
const receipts = activityReceipts();

const rows = [];
const targets = [];
for (const run of runs) {
  for (const [scenario, r] of Object.entries(run.results)) {
    const spec = scenarios('', '', {})[scenario];
    const base = spec.baseline ? run.results[spec.baseline] : undefined;
    const ratio = base ? r.rps / base.rps : undefined;
    const p99Ratio = base ? r.p99 / Math.max(base.p99, 1) : undefined;
    const cpuRatio = base ? r.cpuUsPerRequest / Math.max(base.cpuUsPerRequest, 1) : undefined;
    rows.push({ configuration: run.name, scenario, ...r, ratio, p99Ratio, cpuRatio });
    if (base && scenario.startsWith('exchange')) {
      targets.push({ what: `${run.name}: ${scenario} throughput`, goal: '≥ 0.8× baseline req/s', value: ratio, unit: '×', holds: ratio >= 0.8 });
      targets.push({ what: `${run.name}: ${scenario} p99 latency`, goal: '≤ 2× baseline p99', value: p99Ratio, unit: '×', holds: p99Ratio <= 2 });
    }
    if (base && scenario.startsWith('introspect')) targets.push({ what: `${run.name}: ${scenario} throughput`, goal: '≥ 0.9× built-in req/s', value: ratio, unit: '×', holds: ratio >= 0.9 });
  }
}
const durable = runs.find((r) => r.name === 'redis, 1 process');
const volatile = runs.find((r) => r.name === 'redis, audit in memory');
const auditCost = ['exchange jwt', 'exchange opaque'].map((s) => ({
  scenario: s,
  durableRps: durable.results[s].rps,
  memoryAuditRps: volatile.results[s].rps,
  ratio: durable.results[s].rps / volatile.results[s].rps,
  cpuUsDurable: durable.results[s].cpuUsPerRequest,
  cpuUsMemoryAudit: volatile.results[s].cpuUsPerRequest,
}));
for (const scenario of ['exchange opaque', 'exchange jwt']) {
  targets.push({ what: `standalone Redis: ${scenario} round trips`, goal: '≤ 3', value: perRequest[scenario]['round trips'], unit: '', holds: perRequest[scenario]['round trips'] <= 3 });
}
for (const j of journeys) targets.push({ what: `${j.store}: ticket mint + redemption p99`, goal: '≤ 1 s', value: j.p99Ms / 1000, unit: ' s', holds: j.p99Ms <= 1000 });
targets.push({ what: 'bulk revocation of 10,000 tokens', goal: '≤ 1 s', value: bulk.bulkRevocation.ms / 1000, unit: ' s', holds: bulk.bulkRevocation.ms <= 1000 });
targets.push({ what: 'revocation → refusal at a local-JWT API (feed) p99', goal: '≤ 2 s', value: feed.revocationToRefusal.p99Ms / 1000, unit: ' s', holds: feed.revocationToRefusal.p99Ms <= 2000 });
targets.push({ what: 'local JWT verification with the feed, × without', goal: '≤ 1.1×', value: feed.verificationUs.ratio, unit: '×', holds: feed.verificationUs.ratio <= 1.1 });
targets.push({ what: 'API p99 with activity receipts, × without', goal: '≤ 1.1×', value: receipts.p99Ratio, unit: '×', holds: receipts.p99Ratio <= 1.1 });
targets.push({ what: 'feed requests per API instance per second', goal: '≤ ~1', value: feed.feedRequestsPerSecond, unit: '', holds: feed.feedRequestsPerSecond <= 1.2 });
for (const t of targets) t.status = t.holds ? 'met' : 'not yet';

const fmt = (v, d = 2) => (v === undefined ? '' : v.toFixed(d));
console.log(`\nToken exchange benchmark — ${SECONDS} s per scenario (BENCH_SECONDS), ${CONNECTIONS} connections (BENCH_CONNECTIONS), node ${process.version}, ${new Date().toISOString()}\n`);
console.log('| configuration | scenario | req/s | p50 ms | p99 ms | CPU µs/req | ×baseline req/s | ×baseline p99 | ×baseline CPU | errors |');
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) console.log(`| ${r.configuration} | ${r.scenario} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.cpuUsPerRequest} | ${fmt(r.ratio)} | ${fmt(r.p99Ratio)} | ${fmt(r.cpuRatio)} | ${r.errors} |`);
console.log('\n| the exchange against its floor (bench/floor-grant.mjs: actor token and its grant, account, Grant + AccessToken saved; nothing of ours) | floor ×baseline req/s | exchange ×floor req/s | CPU µs/req floor / exchange |\n| --- | ---: | ---: | ---: |');
for (const run of runs) {
  for (const [label, floorName, exchangeName, baseName] of [
    ['jwt', 'floor jwt', 'exchange jwt', 'client_credentials jwt'],
    ['opaque', 'floor opaque', 'exchange opaque', 'client_credentials opaque'],
    ['introspection', 'floor introspect', 'introspect impersonation', 'introspect client_credentials'],
  ]) {
    const [floorRun, exchangeRun, base] = [run.results[floorName], run.results[exchangeName], run.results[baseName]];
    if (floorRun && exchangeRun && base) console.log(`| ${run.name}, ${label} | ${fmt(floorRun.rps / base.rps)} | ${fmt(exchangeRun.rps / floorRun.rps)} | ${floorRun.cpuUsPerRequest} / ${exchangeRun.cpuUsPerRequest} |`);
  }
}
console.log('\n| configuration | peak RSS (MB, all processes) |\n| --- | ---: |');
for (const run of runs) console.log(`| ${run.name} | ${run.peakRssMb} |`);
console.log('\n| durable audit (Redis Stream) vs audit in memory, Redis store | req/s durable | req/s memory | ratio | CPU µs durable | CPU µs memory |\n| --- | ---: | ---: | ---: | ---: | ---: |');
for (const a of auditCost) console.log(`| ${a.scenario} | ${a.durableRps} | ${a.memoryAuditRps} | ${fmt(a.ratio)} | ${a.cpuUsDurable} | ${a.cpuUsMemoryAudit} |`);
console.log(`\nbulk revocation: ${bulk.bulkRevocation.revoked} tokens in ${bulk.bulkRevocation.ms} ms; Redis memory ${bulk.redisBytesPerToken} bytes per live impersonation token`);
console.log('\n| per request, standalone Redis | commands sent | round trips | operations in Redis |\n| --- | ---: | ---: | ---: |');
for (const [scenario, r] of Object.entries(perRequest)) {
  const ops = Object.values(r['operations in Redis']).reduce((a, b) => a + b, 0);
  console.log(`| ${scenario} | ${r['commands sent']} | ${r['round trips']} | ${fmt(ops, 1)} |`);
}
console.log('\n| browser impersonation (mint ticket, third-party login, redeem, code → tokens), 4 at once | journeys/s | p50 ms | p99 ms |\n| --- | ---: | ---: | ---: |');
for (const j of journeys) console.log(`| ${j.store} | ${j.perSecond} | ${j.p50Ms} | ${j.p99Ms} |`);
console.log('\n| revocation feed (2 provider instances on Redis, API attached to the other one) | value |\n| --- | ---: |');
console.log(`| revocation → refusal p50 / p99 / max (ms, ${feed.samples} revocations) | ${feed.revocationToRefusal.p50Ms} / ${feed.revocationToRefusal.p99Ms} / ${feed.revocationToRefusal.maxMs} |`);
console.log(`| local JWT verification, CPU µs/request, feed off / on | ${feed.verificationUs.feedOff} / ${feed.verificationUs.feedOn} (×${feed.verificationUs.ratio}) |`);
console.log(`| feed requests per second per API instance | ${feed.feedRequestsPerSecond} |`);
console.log('\n| activity receipts (orders API, local JWTs; provider on its own CPU) | without | with |\n| --- | ---: | ---: |');
console.log(`| requests per second | ${receipts.without.requestsPerSecond} | ${receipts.with.requestsPerSecond} |`);
console.log(`| p50 / p99 latency (ms) | ${receipts.without.p50Ms} / ${receipts.without.p99Ms} | ${receipts.with.p50Ms} / ${receipts.with.p99Ms} (p99 ×${receipts.p99Ratio}) |`);
console.log(`| receipts sent / dropped / lost | | ${receipts.receipts?.sent} / ${receipts.receipts?.dropped} / ${receipts.receipts?.failed} |`);
console.log('\nTargets: the goals this project measures itself against, not pass/fail checks (the bench exits 0 either way).');
console.log('Ratios compare with the provider\'s own grant measured in the same run; "not yet" is a goal this run on this machine');
console.log('misses. docs/performance.md says where the time goes; short runs (small BENCH_SECONDS) are noisy.');
console.log('\n| target | goal | measured | status |\n| --- | --- | ---: | --- |');
for (const t of targets) console.log(`| ${t.what} | ${t.goal} | ${fmt(t.value)}${t.unit} | ${t.status} |`);
console.log(`\n${targets.filter((t) => t.holds).length} of ${targets.length} targets met.`);
console.log(`\n(total ${Math.round((Date.now() - started) / 1000)} s; the load generator shares the machine's cores with the server)`);
writeFileSync('bench-results.json', `${JSON.stringify({ seconds: SECONDS, connections: CONNECTIONS, node: process.version, rows, runs, auditCost, bulk, perRequest, journeys, feed, receipts, targets }, null, 2)}\n`);
