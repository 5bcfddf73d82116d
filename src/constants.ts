/** RFC 8693 §2.1 grant type. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** RFC 8693 §3 token type identifiers, plus this project's user-id subject type. */
export const TokenType = {
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
  refreshToken: 'urn:ietf:params:oauth:token-type:refresh_token',
  idToken: 'urn:ietf:params:oauth:token-type:id_token',
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
  userId: 'urn:oidc-provider-token-exchange:token-type:user-id',
} as const;

export type TokenTypeUri = (typeof TokenType)[keyof typeof TokenType];

/** Parameters the grant reads; anything else is stripped by oidc-provider before the handler runs. */
export const GRANT_PARAMETERS = [
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
  'requested_token_type',
  'requested_expires_in',
  'reason',
  'scope',
  'resource',
  'audience',
  'impersonation_mode',
  'approval_id',
] as const;

/** RFC 8693 §2.1 and RFC 8707 allow these to repeat; every other parameter appears at most once. */
export const REPEATABLE_PARAMETERS = ['resource', 'audience'] as const;

/** docs/policy.md: the lifetime ceiling may be lowered by config, never raised above this. */
export const HARD_MAX_LIFETIME_SECONDS = 3600;

export const REASON_MIN_LENGTH = 10;
export const REASON_MAX_LENGTH = 500;

/** The only public description a refusal about the subject ever carries (docs/grant.md). */
export const SUBJECT_REFUSAL = 'subject cannot be impersonated by this actor';

/**
 * docs/browser-impersonation.md §1: a browser-impersonation ticket is this prefix plus 256 random bits (base64url). The
 * prefix tells a ticket from an ordinary `login_hint` (docs/browser-impersonation.md §3).
 */
export const TICKET_PREFIX = 'imptkt_';

/** docs/browser-impersonation.md §1: tickets live at most this long; `tickets.lifetimeSeconds` may only lower it. */
export const TICKET_MAX_LIFETIME_SECONDS = 600;

/**
 * The `amr` value (RFC 8176 §2 allows values beyond its registry) of a session signed in by
 * redeeming a ticket: it marks the session as an impersonation, and ID tokens say so too.
 */
export const IMPERSONATION_AMR = 'impersonation';

/**
 * Client metadata (registered through `extraClientMetadata`) naming a loopback `http` URI to use as
 * the initiate-login URI (OIDC Core §4) when the client has no standard `initiate_login_uri`, which
 * oidc-provider requires to be `https`: for development on localhost only.
 */
export const LOOPBACK_INITIATE_LOGIN_URI = 'initiate_login_uri_loopback';

/** The scope an actor's access token needs for the admin API (docs/admin-console.md); never passed on by an exchange or an impersonation. */
export const ADMIN_SCOPE = 'impersonation:admin';

/** Subject-approved access: the shortest window an actor may ask for. */
export const APPROVAL_MIN_DURATION_SECONDS = 60;

/** Subject-approved access: the longest a request may wait for the subject's answer (7 days). */
export const APPROVAL_REQUEST_MAX_SECONDS = 7 * 24 * 3600;

/** How an impersonation may act: `read` carries only `policy.readOnlyScopes` and never changes anything. */
export type ImpersonationMode = 'read' | 'full';
