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
  if (bounded.has(logger)) return logger;
  const wrapped: Logger = {
    ...(logger.debug ? { debug: (fields: Record<string, unknown>, message: string) => logger.debug!(boundFields(fields), message) } : {}),
    info: (fields, message) => logger.info(boundFields(fields), message),
    warn: (fields, message) => logger.warn(boundFields(fields), message),
    error: (fields, message) => logger.error(boundFields(fields), message),
  };
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
