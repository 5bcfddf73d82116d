// bench/server.mjs with a CPU profiler the parent drives over stdin (used by bench/profile.mjs):
// a line "start <file>" starts the V8 sampling profiler (every 500 µs, PROFILE_INTERVAL_US); "stop" stops it, writes
// the .cpuprofile to <file> and answers one JSON line {"stopped":true,"cpuUs":…} with this
// process's user + system CPU µs over the window. Profiling only a window keeps start-up and
// warm-up out of the figures.
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: Number(process.env.PROFILE_INTERVAL_US ?? 500) });

let file;
let cpuAtStart;
createInterface({ input: process.stdin }).on('line', async (line) => {
  const [command, argument] = line.trim().split(' ');
  if (command === 'start') {
    file = argument;
    cpuAtStart = process.cpuUsage();
    await session.post('Profiler.start');
    process.stdout.write(`${JSON.stringify({ started: true })}\n`);
  } else if (command === 'stop') {
    const { profile } = await session.post('Profiler.stop');
    const cpu = process.cpuUsage(cpuAtStart);
    writeFileSync(file, JSON.stringify(profile));
    process.stdout.write(`${JSON.stringify({ stopped: true, cpuUs: cpu.user + cpu.system })}\n`);
  }
});

await import('./server.mjs');
