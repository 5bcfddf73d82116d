import { calculateJwkThumbprint, EmbeddedJWK, errors, jwtVerify } from 'jose';
import { sha256 } from '../digest.js';

/*
 * RFC 9449 proof verification, shared by every place that accepts a DPoP proof: the token
 * endpoint's token exchange (src/exchange/dpop.ts), the admin API (src/admin/auth.ts) and the
 * resource-server toolkit (src/resource-server/verifier.ts). Each caller maps a failure to its own
 * refusal and keeps its own replay record (RFC 9449 §11.1).
 */

/** Asymmetric JWS algorithms the provider's own endpoints accept in a proof (RFC 9449 §4.2). */
export const PROVIDER_PROOF_ALGORITHMS: readonly string[] = ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512', 'EdDSA', 'Ed25519'];
/** RFC 9449 §11.1: how old a proof presented to the provider's own endpoints may be, in seconds. */
export const PROVIDER_PROOF_WINDOW_SECONDS = 300;

/** How a proof is checked: which algorithms, how old its `iat` may be, the clock. */
export interface ProofCheck {
  readonly algorithms: readonly string[];
  readonly iatWindowSeconds: number;
  readonly clockToleranceSeconds: number;
  readonly now: () => number;
}

/** A proof whose signature and claims hold; its `jti` is not yet recorded (the caller records it). */
export interface VerifiedProof {
  /** The proof key's JWK SHA-256 thumbprint (RFC 7638), to compare with a token's `cnf.jkt`. */
  readonly thumbprint: string;
  readonly jti: string;
  /** Epoch ms until which the proof's `jti` must be remembered. */
  readonly rememberUntil: number;
}

/** Why a proof was refused: a stable code, and a private detail for logs and audit records. */
export type ProofFailureCode =
  | 'dpop_proof_missing'
  | 'dpop_proof_multiple'
  | 'dpop_proof_invalid'
  | 'dpop_proof_method'
  | 'dpop_proof_url'
  | 'dpop_proof_iat'
  | 'dpop_proof_ath';

export type ProofResult = { ok: true; proof: VerifiedProof } | { ok: false; code: ProofFailureCode; detail: string };

const fail = (code: ProofFailureCode, detail: string): ProofResult => ({ ok: false, code, detail });

/** RFC 9449 §4.3 step 9: the request URI without query and fragment, normalized by the URL parser. */
function withoutQuery(uri: string): string | undefined {
  try {
    const url = new URL(uri);
    return `${url.origin}${url.pathname}`;
  } catch {
    return undefined;
  }
}

/**
 * RFC 9449 §4.3 and §7.1: one proof header; a JWS of `typ` `dpop+jwt` with an asymmetric allowed
 * `alg`, signed by the public key in its `jwk` header; `htm` is the request method, `htu` the
 * request URI (query and fragment ignored); `iat` within the window; a `jti`; and, when an access
 * token is presented with it (§7.1, not at the token endpoint), `ath` the base64url SHA-256 of that
 * token. The key binding (`cnf.jkt`) and replay are checked by the caller.
 */
export async function verifyProof(proof: string | undefined, request: { method: string; url: string }, accessToken: string | undefined, check: ProofCheck): Promise<ProofResult> {
  if (proof === undefined || proof === '') return fail('dpop_proof_missing', 'no DPoP header');
  if (proof.includes(',')) return fail('dpop_proof_multiple', 'more than one DPoP header');
  let verified;
  try {
    verified = await jwtVerify(proof, EmbeddedJWK, {
      typ: 'dpop+jwt',
      algorithms: [...check.algorithms],
      // iat is checked against the window below; exp/nbf, when present, still hold.
      clockTolerance: check.clockToleranceSeconds,
      currentDate: new Date(check.now()),
    });
  } catch (err) {
    return fail('dpop_proof_invalid', err instanceof errors.JOSEError ? err.code : 'unverifiable');
  }
  const { payload, protectedHeader } = verified;
  if (payload.htm !== request.method) return fail('dpop_proof_method', 'htm is not the request method');
  if (typeof payload.htu !== 'string' || withoutQuery(payload.htu) !== withoutQuery(request.url)) return fail('dpop_proof_url', 'htu is not the request URI');
  const now = check.now() / 1000;
  if (typeof payload.iat !== 'number' || payload.iat < now - check.iatWindowSeconds || payload.iat > now + check.clockToleranceSeconds) {
    return fail('dpop_proof_iat', 'iat outside the window');
  }
  if (typeof payload.jti !== 'string' || payload.jti.length < 8 || payload.jti.length > 256) return fail('dpop_proof_invalid', 'jti missing');
  if (accessToken !== undefined && payload.ath !== (await sha256(accessToken))) return fail('dpop_proof_ath', 'ath is not the hash of the presented token');
  return {
    ok: true,
    proof: {
      thumbprint: await calculateJwkThumbprint(protectedHeader.jwk!, 'sha256'),
      jti: payload.jti,
      rememberUntil: (payload.iat + check.iatWindowSeconds + check.clockToleranceSeconds) * 1000,
    },
  };
}
