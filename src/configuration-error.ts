import type { z } from 'zod';

/**
 * Thrown at start-up for invalid options; the message names every bad field. One class for both
 * products (the provider extension and the resource-server toolkit), so that `instanceof` holds
 * whichever entry point it is imported from.
 */
export class ConfigurationError extends Error {
  readonly code = 'ERR_TOKEN_EXCHANGE_CONFIG';
  /** Each bad field (dotted path from the options' root, e.g. `policy.maxLifetimeSeconds`) and what is wrong with it. */
  readonly issues: ReadonlyArray<{ readonly path: string; readonly message: string }>;
  constructor(message: string, issues: ReadonlyArray<{ path: string; message: string }> = []) {
    super(message);
    this.name = 'ConfigurationError';
    this.issues = issues;
  }
}

/** The error of a failed validation: `<what>: <path>: <message>; …`, with each issue. */
export function invalidOptions(what: string, error: z.ZodError): ConfigurationError {
  const issues = error.issues.map((issue) => ({ path: issue.path.length ? issue.path.join('.') : '(options)', message: issue.message }));
  return new ConfigurationError(`${what}: ${issues.map(({ path, message }) => `${path}: ${message}`).join('; ')}`, issues);
}
