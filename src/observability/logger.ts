import { boundFields } from '../audit/bounds.js';

/**
 * The structured logger the extension writes to (pino's shape). It is never given a token value,
 * a secret, a password or a reason; only ids, rules and outcomes.
 */
export interface Logger {
  /** Optional (pino has it): details for operators, e.g. a refusal's private reason. */
  debug?(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
  /** Optional (pino has it): whether a line at `level` would be written; a dropped line is not bounded first. */
  isLevelEnabled?(level: string): boolean;
}

/** A logger that drops everything (the default). */
export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

const bounded = new WeakSet<Logger>();

/**
 * The logger with every field bounded ({@link boundFields}): the one door each log line of the
 * extension and the reference server goes through, so none is longer than `LOG_LINE_MAX_BYTES`
 * whatever a caller sent, and an id that looks like a credential is logged as a digest.
 */
export function boundedLogger(logger: Logger): Logger {
  // Nothing to bound in a logger that writes nothing.
  if (bounded.has(logger) || logger === silentLogger) return logger;
  // A line the logger's level drops is not bounded first (a bulk revocation logs one per token).
  const bound =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (fields: Record<string, unknown>, message: string): void => {
      if (logger.isLevelEnabled?.(level) !== false) logger[level]!(boundFields(fields), message);
    };
  const wrapped: Logger = { ...(logger.debug ? { debug: bound('debug') } : {}), info: bound('info'), warn: bound('warn'), error: bound('error') };
  bounded.add(wrapped);
  return wrapped;
}

/**
 * pino `redact` paths for anything that could carry a credential, as a second line of defence
 * for application logs around the extension (request logs, error objects).
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers.dpop',
  'res.headers["set-cookie"]',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  '*.subject_token',
  '*.actor_token',
  '*.token',
  '*.client_secret',
  '*.password',
  '*.code',
  '*.code_verifier',
  '*.secret',
];
