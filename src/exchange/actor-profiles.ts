import type { ImpersonationPolicy } from '../config/policy.js';

/** What `policy.actorProfiles` says about a kind of actor (docs/policy.md "Typed actors"). */
export interface ActorProfileRule {
  /** Actors of this kind act read-only only (`policy.readOnlyScopes`, `impersonation.mode: read`). */
  readonly readOnly: boolean;
  /** Whether actors of this kind may act for an account holding one of `policy.protectedRoles`. */
  readonly protectedSubjects: boolean;
}

/** The strictest rule over every kind a chain's actors have (any read-only kind makes it read-only). */
export function profileRule(policy: ImpersonationPolicy, profiles: ReadonlyArray<string | undefined>): ActorProfileRule {
  let readOnly = false;
  let protectedSubjects = true;
  for (const profile of profiles) {
    if (profile === undefined) continue;
    for (const kind of profile.toLowerCase().split(' ')) {
      const rule = policy.actorProfiles[kind];
      if (!rule) continue;
      readOnly ||= rule.readOnly;
      protectedSubjects &&= rule.protectedSubjects;
    }
  }
  return { readOnly, protectedSubjects };
}
