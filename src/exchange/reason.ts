import { containsToken } from '../audit/bounds.js';
import { REASON_MAX_LENGTH, REASON_MIN_LENGTH } from '../constants.js';
import { invalidRequest } from '../errors.js';

/*
 * The reason of an impersonation (docs/grant.md `reason`, docs/policy.md `requireReason`): the one
 * place it is checked, for every door an impersonation comes through (the grant's `reason`
 * parameter, a browser ticket, an approval request). The audit record bounds every field it stores
 * (src/audit/bounds.ts); a reason that passed here is never cut by that bound.
 */

// docs/grant.md: Unicode control (Cc) and format (Cf) characters — bidi overrides, zero-width characters —
// and the line and paragraph separators, any of which makes a reason read differently than stored.
const CONTROL_CHARACTERS = /[\p{Cc}\p{Cf}\u2028\u2029]/u;

/**
 * docs/grant.md's reason rule: trimmed, 10–500 characters, no control or format characters, and
 * (docs/audit.md) nothing that looks like a token. Answers the trimmed reason, `undefined` when
 * none was given, or throws the refusal naming what is wrong.
 */
export function validateReason(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const reason = raw.trim();
  if (reason === '') return undefined;
  const length = [...reason].length;
  if (length < REASON_MIN_LENGTH || length > REASON_MAX_LENGTH) {
    throw invalidRequest('reason_invalid', `reason must be ${REASON_MIN_LENGTH} to ${REASON_MAX_LENGTH} characters`);
  }
  if (CONTROL_CHARACTERS.test(reason)) {
    throw invalidRequest('reason_invalid', 'reason must not contain control characters');
  }
  // docs/audit.md: no token value is ever written to the audit log, where the reason goes.
  if (containsToken(reason)) {
    throw invalidRequest('reason_invalid', 'reason must not contain a token or other credential');
  }
  return reason;
}

/** docs/policy.md: a reason is required for impersonation unless policy relaxes it. */
export function assertReason(reason: string | undefined, policy: { readonly requireReason: boolean }): void {
  if (policy.requireReason && reason === undefined) {
    throw invalidRequest('reason_missing', "missing required parameter 'reason'");
  }
}
