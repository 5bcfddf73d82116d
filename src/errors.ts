import { errors } from 'oidc-provider';
import { SUBJECT_REFUSAL } from './constants.js';

/** The OAuth error codes this grant answers with. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_scope'
  | 'invalid_target'
  | 'invalid_dpop_proof'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'access_denied'
  | 'server_error';

/**
 * Stable machine-readable rule codes. Each names the one rule a refusal enforced; the audit record
 * carries it, the client never sees it (it sees only the OAuth error and a fixed description).
 */
export type RefusalRule =
  // the request itself
  | 'parameter_missing'
  | 'request_malformed'
  | 'parameter_duplicated'
  | 'token_type_unsupported'
  | 'requested_token_type_unsupported'
  | 'requested_expires_in_invalid'
  | 'actor_token_required'
  | 'reason_missing'
  | 'reason_invalid'
  // the client
  | 'client_authentication_failed'
  | 'client_public'
  | 'client_grant_not_allowed'
  | 'unauthenticated_rate_limited'
  | 'impersonation_disabled'
  | 'dpop_proof_invalid'
  // the actor
  | 'actor_token_invalid'
  | 'actor_token_audience'
  | 'actor_token_carries_act'
  | 'actor_token_untracked'
  | 'actor_unknown'
  | 'actor_disabled'
  | 'actor_not_impersonator'
  | 'actor_not_a_user'
  | 'actor_authentication_stale'
  | 'actor_rate_limited'
  // the subject
  | 'subject_token_invalid'
  | 'subject_token_audience'
  | 'subject_token_unrevocable'
  | 'subject_token_untracked'
  | 'subject_unknown'
  | 'subject_disabled'
  | 'subject_is_actor'
  | 'subject_protected'
  | 'subject_other_tenant'
  | 'subject_may_act'
  | 'subject_denied_by_hook'
  | 'delegation_inactive'
  | 'chain_too_long'
  | 'lifetime_exhausted'
  // scope and target
  | 'scope_empty'
  | 'target_unknown'
  | 'target_not_allowed'
  | 'target_multiple'
  | 'target_required'
  // browser impersonation (docs/browser-impersonation.md)
  | 'ticket_client_unknown'
  | 'ticket_client_unsupported'
  | 'target_link_uri_invalid'
  | 'ticket_unknown'
  | 'ticket_expired'
  | 'ticket_used'
  | 'ticket_other_client'
  | 'ticket_browser_signed_in'
  | 'ticket_client_first_party'
  // the admin API
  | 'admin_refusals_rate_limited'
  // subject-approved access and read-only impersonation
  | 'approval_required'
  | 'approval_unknown'
  | 'approval_pending'
  | 'approval_declined'
  | 'approval_revoked'
  | 'approval_expired'
  | 'approval_used'
  | 'approval_not_applicable'
  | 'approval_invalid'
  | 'impersonation_mode_invalid'
  | 'impersonation_mode_not_allowed'
  | 'impersonation_mode_unavailable'
  // the server
  | 'audit_write_failed'
  | 'server_error';

/**
 * A refusal: a public OAuth error and description for the client, a rule code and a private detail
 * for the audit trail and logs. Never carries a token value.
 */
export class ExchangeRefusal extends Error {
  readonly rule: RefusalRule;
  readonly error: OAuthErrorCode;
  readonly description: string;
  readonly status: number;
  readonly detail: string | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    rule: RefusalRule,
    error: OAuthErrorCode,
    description: string,
    options: { detail?: string; status?: number; headers?: Record<string, string> } = {},
  ) {
    super(description);
    this.name = 'ExchangeRefusal';
    this.rule = rule;
    this.error = error;
    this.description = description;
    this.status = options.status ?? (error === 'server_error' ? 500 : 400);
    this.detail = options.detail;
    this.headers = options.headers ?? {};
  }
}

/** RFC 8693 §2.2.2: a malformed request or an unacceptable token. */
export function invalidRequest(rule: RefusalRule, description: string, detail?: string): ExchangeRefusal {
  return new ExchangeRefusal(rule, 'invalid_request', description, { detail });
}

/** docs/grant.md: every refusal about the subject reads the same, whatever the rule. */
export function subjectRefused(rule: RefusalRule, detail?: string): ExchangeRefusal {
  return new ExchangeRefusal(rule, 'invalid_request', SUBJECT_REFUSAL, { detail });
}

/** RFC 8707 §2 / RFC 8693 §2.2.2. */
export function invalidTarget(rule: RefusalRule, description: string, detail?: string): ExchangeRefusal {
  return new ExchangeRefusal(rule, 'invalid_target', description, { detail });
}

/** Turns a refusal into the error oidc-provider renders (status, error, error_description). */
export function toProviderError(refusal: ExchangeRefusal): Error {
  const err = new errors.CustomOIDCProviderError(refusal.error, refusal.description);
  Object.assign(err, {
    status: refusal.status,
    statusCode: refusal.status,
    expose: refusal.status < 500,
    error_detail: `${refusal.rule}${refusal.detail ? `: ${refusal.detail}` : ''}`,
  });
  return err;
}
