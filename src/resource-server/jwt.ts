import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { DenialCode } from './errors.js';

/** A JWS in compact serialization: three base64url parts (RFC 7515 §7.1). Anything else is opaque. */
export function looksLikeJwt(token: string): boolean {
  return /^[\w-]+\.[\w-]+\.[\w-]*$/.test(token);
}

export interface JwtCheck {
  readonly issuer: string;
  readonly audience: readonly string[];
  readonly algorithms: readonly string[];
  readonly clockTolerance: number;
  readonly now: () => number;
}

export type JwtResult = { ok: true; claims: JWTPayload } | { ok: false; code: DenialCode; detail: string };

/** Which check a jose error stands for; `undefined` for errors that are not about the token. */
function denialOf(err: unknown): { code: DenialCode; detail: string } | undefined {
  if (err instanceof errors.JWTExpired) return { code: 'token_expired', detail: 'exp' };
  if (err instanceof errors.JWTClaimValidationFailed) {
    const byClaim: Record<string, DenialCode> = { typ: 'token_type', iss: 'token_issuer', aud: 'token_audience', nbf: 'token_not_yet_valid' };
    return { code: byClaim[err.claim] ?? 'token_claims', detail: `${err.claim} ${err.reason}` };
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return { code: 'token_algorithm', detail: 'alg not in the allow-list' };
  if (err instanceof errors.JWSSignatureVerificationFailed) return { code: 'token_signature', detail: 'signature' };
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) return { code: 'token_unknown_key', detail: err.code };
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported) return { code: 'token_malformed', detail: err.code };
  return undefined;
}

/**
 * RFC 9068 §4: `typ` is `at+jwt`, `iss` is exactly the issuer, `aud` names this API, `alg` is on
 * the allow-list (asymmetric only: never `none`, never HS*), `exp`/`nbf`/`iat` hold within the bounded
 * clock tolerance, and the signature verifies with a key of the issuer's JWKS (fetched and cached by
 * jose's remote key set: an unknown `kid` refetches, at most once per cooldown). Errors that are not
 * about the token (the JWKS unreachable) are thrown.
 */
export async function verifyAccessTokenJwt(token: string, keys: JWTVerifyGetKey, check: JwtCheck): Promise<JwtResult> {
  try {
    const { payload } = await jwtVerify(token, keys, {
      typ: 'at+jwt',
      issuer: check.issuer,
      audience: [...check.audience],
      algorithms: [...check.algorithms],
      clockTolerance: check.clockTolerance,
      currentDate: new Date(check.now()),
      requiredClaims: ['exp', 'iat', 'sub', 'client_id', 'jti'],
    });
    // RFC 7519 §4.1.6: `iat` is when it was issued, a moment past. jose checks it only against a
    // maximum age; a token "issued" in the future is refused with the grant's tolerance (src/exchange/verify.ts).
    if (typeof payload.iat === 'number' && payload.iat > check.now() / 1000 + check.clockTolerance) return { ok: false, code: 'token_not_yet_valid', detail: 'iat in the future' };
    return { ok: true, claims: payload };
  } catch (err) {
    const denial = denialOf(err);
    if (denial) return { ok: false, ...denial };
    throw err;
  }
}
