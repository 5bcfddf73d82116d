import type { ProofFailureCode } from '../dpop/proof.js';

/**
 * Stable machine-readable codes: the one check that refused a request. Logged (with a private
 * detail) and set on {@link AccessDenied}; the client sees only the RFC 6750 error and a fixed text.
 */
export type DenialCode =
  // where the token is (RFC 6750 §2)
  | 'token_missing'
  | 'token_in_query'
  | 'authorization_malformed'
  | 'request_malformed'
  // the token (RFC 9068 §4, RFC 7662 §2.2)
  | 'token_malformed'
  | 'token_type'
  | 'token_algorithm'
  | 'token_signature'
  | 'token_unknown_key'
  | 'token_issuer'
  | 'token_audience'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'token_claims'
  | 'token_opaque'
  | 'token_inactive'
  | 'token_revoked'
  | 'token_act'
  // sender constraint (RFC 9449 §7)
  | 'token_bound_presented_as_bearer'
  | 'token_not_bound'
  | 'dpop_required'
  | 'dpop_key_mismatch'
  | 'dpop_unavailable'
  | ProofFailureCode
  | 'dpop_proof_replayed'
  // guards (RFC 6750 §3.1 insufficient_scope)
  | 'scope_missing'
  | 'impersonated'
  | 'read_only'
  // the authorization server could not answer
  | 'issuer_unavailable'
  | 'revocations_unavailable'
  | 'replay_cache_unavailable'
  | 'introspection_budget';

/** RFC 6750 §3.1 error codes, RFC 9449 §7.1 `invalid_dpop_proof`, and 503 when the issuer is unreachable. */
export type ResourceErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'invalid_dpop_proof' | 'temporarily_unavailable';

/** The authentication scheme of a challenge (RFC 6750 §3, RFC 9449 §7.1). */
export type Scheme = 'Bearer' | 'DPoP';

interface Refusal {
  readonly status: 400 | 401 | 403 | 503;
  /** Absent when the request carried no credentials (RFC 6750 §3.1: no error code then). */
  readonly error: ResourceErrorCode | undefined;
  readonly description: string;
}

const INVALID_TOKEN: Refusal = { status: 401, error: 'invalid_token', description: 'the access token is invalid, expired or revoked' };
const INVALID_PROOF: Refusal = { status: 401, error: 'invalid_dpop_proof', description: 'invalid DPoP proof' };

/** Public status, error and text of each code: fixed, so nothing about the token leaks through them. */
const REFUSALS: Record<DenialCode, Refusal> = {
  token_missing: { status: 401, error: undefined, description: 'an access token is required' },
  token_in_query: { status: 400, error: 'invalid_request', description: 'send the access token in the Authorization header, never in the URL or body' },
  authorization_malformed: { status: 400, error: 'invalid_request', description: 'the Authorization header is malformed' },
  request_malformed: { status: 400, error: 'invalid_request', description: 'the request URL cannot be read' },
  token_malformed: INVALID_TOKEN,
  token_type: INVALID_TOKEN,
  token_algorithm: INVALID_TOKEN,
  token_signature: INVALID_TOKEN,
  token_unknown_key: INVALID_TOKEN,
  token_issuer: INVALID_TOKEN,
  token_audience: INVALID_TOKEN,
  token_expired: INVALID_TOKEN,
  token_not_yet_valid: INVALID_TOKEN,
  token_claims: INVALID_TOKEN,
  token_opaque: INVALID_TOKEN,
  token_inactive: INVALID_TOKEN,
  token_revoked: INVALID_TOKEN,
  token_act: { status: 401, error: 'invalid_token', description: 'the access token names who acts (act) in a form that cannot be read whole, or names too many actors' },
  token_bound_presented_as_bearer: { status: 401, error: 'invalid_token', description: 'this access token is DPoP-bound: present it with the DPoP scheme and a proof' },
  token_not_bound: { status: 401, error: 'invalid_token', description: 'this access token is not DPoP-bound: present it with the Bearer scheme' },
  dpop_required: { status: 401, error: 'invalid_token', description: 'this API accepts only DPoP-bound access tokens' },
  dpop_key_mismatch: { status: 401, error: 'invalid_token', description: 'invalid DPoP key binding' },
  dpop_unavailable: { status: 401, error: 'invalid_token', description: 'this API cannot check DPoP proofs: its public origin is not configured' },
  dpop_proof_missing: { status: 401, error: 'invalid_dpop_proof', description: 'a DPoP proof is required' },
  dpop_proof_multiple: INVALID_PROOF,
  dpop_proof_invalid: INVALID_PROOF,
  dpop_proof_method: INVALID_PROOF,
  dpop_proof_url: INVALID_PROOF,
  dpop_proof_iat: INVALID_PROOF,
  dpop_proof_ath: INVALID_PROOF,
  dpop_proof_replayed: INVALID_PROOF,
  scope_missing: { status: 403, error: 'insufficient_scope', description: 'the access token lacks a required scope' },
  impersonated: { status: 403, error: 'insufficient_scope', description: 'this action is not allowed while someone else acts for the user' },
  read_only: { status: 403, error: 'insufficient_scope', description: 'a read-only impersonation cannot change anything' },
  issuer_unavailable: { status: 503, error: 'temporarily_unavailable', description: 'the authorization server could not be reached; retry later' },
  introspection_budget: { status: 503, error: 'temporarily_unavailable', description: 'too many unknown access tokens to check at the moment; retry later' },
  replay_cache_unavailable: { status: 503, error: 'temporarily_unavailable', description: 'the service is temporarily unavailable; retry later' },
  revocations_unavailable: { status: 503, error: 'temporarily_unavailable', description: 'the authorization server could not be reached; retry later' },
};

/** What a challenge needs to know about the resource server (RFC 6750 §3, RFC 9449 §7.1). */
export interface ChallengeSettings {
  readonly realm: string | undefined;
  /** Proof algorithms, advertised in the `DPoP` challenge's `algs`. */
  readonly dpopAlgorithms: readonly string[];
  /** When true, only the `DPoP` scheme is offered. */
  readonly dpopRequired: boolean;
}

function challenge(scheme: Scheme, settings: ChallengeSettings, params: Record<string, string | undefined>): string {
  const all = { realm: settings.realm, ...params, ...(scheme === 'DPoP' ? { algs: settings.dpopAlgorithms.join(' ') } : {}) };
  const rendered = Object.entries(all)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `${name}="${value}"`);
  return rendered.length ? `${scheme} ${rendered.join(', ')}` : scheme;
}

/**
 * A refused request: the HTTP status, the `WWW-Authenticate` challenges and a JSON body for the
 * client (RFC 6750 §3; RFC 9449 §7.1), and a stable `code` plus a private `detail` for logs.
 * Never carries a token value.
 */
export class AccessDenied extends Error {
  readonly code: DenialCode;
  readonly status: 400 | 401 | 403 | 503;
  readonly error: ResourceErrorCode | undefined;
  readonly description: string;
  /** Private: which part of the check failed, for logs. Never contains a token. */
  readonly detail: string | undefined;
  /** The scope the request lacked (`insufficient_scope`). */
  readonly scope: string | undefined;
  /** `WWW-Authenticate` values (one per scheme offered); none for a 503. */
  readonly challenges: readonly string[];

  constructor(code: DenialCode, options: { settings: ChallengeSettings; scheme?: Scheme | undefined; detail?: string | undefined; scope?: string | undefined }) {
    const refusal = REFUSALS[code];
    super(refusal.description);
    this.name = 'AccessDenied';
    this.code = code;
    this.status = refusal.status;
    this.error = refusal.error;
    this.description = refusal.description;
    this.detail = options.detail;
    this.scope = options.scope;
    this.challenges = AccessDenied.#challenges(code, refusal, options.settings, options.scheme, options.scope);
  }

  static #challenges(code: DenialCode, refusal: Refusal, settings: ChallengeSettings, used: Scheme | undefined, scope: string | undefined): string[] {
    if (refusal.status === 503) return [];
    const params = { error: refusal.error, error_description: refusal.error ? refusal.description : undefined, scope };
    // RFC 9449 §7.2: a DPoP-bound token presented as a bearer token is answered with the DPoP scheme.
    const scheme: Scheme | undefined = code === 'token_bound_presented_as_bearer' || code === 'dpop_required' ? 'DPoP' : used;
    if (scheme) return [challenge(scheme, settings, params)];
    // No scheme used (no or unusable credentials): offer every scheme this API accepts.
    const offered: Scheme[] = settings.dpopRequired ? ['DPoP'] : ['Bearer', 'DPoP'];
    return offered.map((s) => challenge(s, settings, params));
  }

  /** The JSON body the middleware answers with. */
  body(): { error?: string; error_description: string } {
    return this.error ? { error: this.error, error_description: this.description } : { error_description: this.description };
  }

  /** Response headers: `WWW-Authenticate` (one value per challenge), JSON, never cached. */
  headers(): Array<[string, string]> {
    return [
      ...this.challenges.map((value): [string, string] => ['WWW-Authenticate', value]),
      ['Content-Type', 'application/json'],
      ['Cache-Control', 'no-store'],
    ];
  }

  /** The refusal as a web-standard `Response`, for fetch handlers. */
  toResponse(): Response {
    const headers = new Headers();
    for (const [name, value] of this.headers()) headers.append(name, value);
    return new Response(JSON.stringify(this.body()), { status: this.status, headers });
  }
}
