import { Writable } from 'node:stream';
import pino from 'pino';
import { REDACT_PATHS } from '../../src/observability/logger.js';

/** A pino logger (the reference server's settings) whose JSON lines are kept in `lines`. */
export function captureLogs(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: pino({ level: 'debug', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink), lines };
}
