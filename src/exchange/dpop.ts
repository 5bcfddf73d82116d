import { calculateJwkThumbprint, EmbeddedJWK, errors as joseErrors, jwtVerify } from 'jose';
import { ExchangeRefusal } from '../errors.js';

/** RFC 9449 §4.3 proofs older or newer than this many seconds are refused. */
const PROOF_WINDOW_SECONDS = 300;
const ASYMMETRIC = ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512', 'EdDSA', 'Ed25519'];

/** Records a proof's `jti` once; answers false when it was seen before (replay). */
export type ReplayCheck = (clientId: string, jti: string, expiresAt: number) => Promise<boolean>;

function invalidProof(detail: string): ExchangeRefusal {
  return new ExchangeRefusal('dpop_proof_invalid', 'invalid_dpop_proof', 'invalid DPoP proof', { detail });
}

/**
 * Validates the `DPoP` request header for the token endpoint (RFC 9449 §4.3) and returns the
 * proof key's JWK SHA-256 thumbprint (RFC 7638), or `undefined` when no proof was sent.
 */
export async function verifyDpopProof(input: {
  proof: string | undefined;
  tokenEndpoint: string;
  clientId: string;
  clockTolerance: number;
  replay: ReplayCheck;
}): Promise<string | undefined> {
  if (!input.proof) return undefined;
  let verified;
  try {
    verified = await jwtVerify(input.proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ASYMMETRIC, clockTolerance: input.clockTolerance });
  } catch (err) {
    throw invalidProof(err instanceof joseErrors.JOSEError ? err.code : 'unverifiable');
  }
  const { payload, protectedHeader } = verified;
  if (payload.htm !== 'POST') throw invalidProof('htm is not POST');
  if (typeof payload.htu !== 'string' || payload.htu.split(/[?#]/)[0] !== input.tokenEndpoint) throw invalidProof('htu is not the token endpoint');
  if (typeof payload.jti !== 'string' || payload.jti.length < 8) throw invalidProof('jti missing');
  const now = Math.floor(Date.now() / 1000);
  if (typeof payload.iat !== 'number' || Math.abs(now - payload.iat) > PROOF_WINDOW_SECONDS + input.clockTolerance) throw invalidProof('iat out of window');
  if (!(await input.replay(input.clientId, payload.jti, now + 2 * PROOF_WINDOW_SECONDS))) throw invalidProof('replayed');
  return calculateJwkThumbprint(protectedHeader.jwk!);
}

/**
 * RFC 9449 §7: a sender-constrained token is usable only with a proof of its key. An exchange
 * that presents one must be signed by the same key, and what it issues stays bound to it.
 */
export function assertBoundTokenProven(role: 'actor' | 'subject', boundTo: string | undefined, proven: string | undefined): void {
  if (boundTo !== undefined && boundTo !== proven) {
    throw new ExchangeRefusal(
      role === 'actor' ? 'actor_token_invalid' : 'subject_token_invalid',
      'invalid_request',
      `${role}_token is DPoP-bound; send a DPoP proof made with its key`,
      { detail: proven ? 'proof key differs from the token binding' : 'no DPoP proof' },
    );
  }
}
