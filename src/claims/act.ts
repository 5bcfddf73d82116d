/**
 * RFC 8693 §4.1 actor claim: the acting party, with the prior actor nested inside.
 * `sub_profile` names the kind of entity the actor is (draft-mcguinness-oauth-actor-profile §3.4,
 * values of draft-mora-oauth-entity-profiles §3.1: `user`, `service`, `ai_agent`, ...).
 */
export interface ActClaim {
  readonly sub: string;
  readonly iss?: string;
  readonly sub_profile?: string;
  readonly act?: ActClaim;
}

/** draft-mora-oauth-entity-profiles §3.3: space-separated profile tokens of ALPHA / DIGIT / "-" / "_" / ".". */
export const ENTITY_PROFILE = /^[A-Za-z0-9._-]+( [A-Za-z0-9._-]+)*$/;

/** Reads an `act` claim from untrusted JSON; anything not shaped like one yields `undefined`. */
export function readAct(value: unknown, depth = 0): ActClaim | undefined {
  if (depth > 16 || typeof value !== 'object' || value === null) return undefined;
  const { sub, iss, sub_profile: profile, act } = value as Record<string, unknown>;
  if (typeof sub !== 'string' || sub === '') return undefined;
  const nested = act === undefined ? undefined : readAct(act, depth + 1);
  return {
    sub,
    ...(typeof iss === 'string' ? { iss } : {}),
    ...(typeof profile === 'string' && ENTITY_PROFILE.test(profile) ? { sub_profile: profile } : {}),
    ...(nested ? { act: nested } : {}),
  };
}

/** What {@link readActStrict} answers: the whole chain, or why it cannot be read. */
export type StrictAct = { readonly ok: true; readonly act: ActClaim } | { readonly ok: false; readonly reason: 'malformed' | 'too_deep' };

/**
 * Reads an `act` claim (RFC 8693 §4.1) all the way down, or not at all: any actor not shaped like
 * one — at any depth — makes the whole claim malformed, and a chain of more than `maxActors`
 * actors is too deep. Never truncates: a truncated chain would drop the person who started it.
 */
export function readActStrict(value: unknown, maxActors: number): StrictAct {
  const chain: Array<{ sub: string; iss?: string; sub_profile?: string }> = [];
  for (let current = value; current !== undefined; current = (current as Record<string, unknown>).act) {
    if (chain.length === maxActors) return { ok: false, reason: 'too_deep' };
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return { ok: false, reason: 'malformed' };
    const { sub, iss, sub_profile: profile } = current as Record<string, unknown>;
    if (typeof sub !== 'string' || sub === '' || (iss !== undefined && typeof iss !== 'string')) return { ok: false, reason: 'malformed' };
    // The actor's kind (draft-mcguinness-oauth-actor-profile §3.4) travels with it when well-formed.
    chain.push({ sub, ...(iss !== undefined ? { iss: iss as string } : {}), ...(typeof profile === 'string' && ENTITY_PROFILE.test(profile) ? { sub_profile: profile } : {}) });
  }
  let act: ActClaim | undefined;
  for (let i = chain.length - 1; i >= 0; i -= 1) act = Object.assign({}, chain[i]!, act ? { act } : undefined);
  return act ? { ok: true, act } : { ok: false, reason: 'malformed' };
}

/** How many actors a chain names (0 for none). */
export function chainLength(act: ActClaim | undefined): number {
  let n = 0;
  for (let a = act; a; a = a.act) n += 1;
  return n;
}

/** Every actor of a chain, the current one first. */
export function actorChain(act: ActClaim | undefined): ActClaim[] {
  const chain: ActClaim[] = [];
  for (let a = act; a; a = a.act) chain.push(a);
  return chain;
}

/** RFC 8693 §4.1: the new actor wraps the existing chain; `act` is never dropped (nor an inner `sub_profile` rewritten). */
export function wrapActor(actor: { sub: string; iss?: string | undefined; sub_profile?: string | undefined }, prior: ActClaim | undefined): ActClaim {
  return {
    sub: actor.sub,
    ...(actor.iss ? { iss: actor.iss } : {}),
    ...(actor.sub_profile ? { sub_profile: actor.sub_profile } : {}),
    ...(prior ? { act: prior } : {}),
  };
}
