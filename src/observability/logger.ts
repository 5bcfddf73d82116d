/**
 * The structured logger the extension writes to (pino's shape). It is never given a token value,
 * a secret, a password or a reason; only ids, rules and outcomes.
 */
export interface Logger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** A logger that drops everything (the default). */
export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

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
