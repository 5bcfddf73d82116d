import type { DirectoryAccount } from '../accounts.js';
import { ENTITY_PROFILE } from './act.js';

/*
 * Typed actors (docs/beyond-impersonation.md "Typed actors"). Every `act` this provider issues
 * names the kind of its actor in `sub_profile` (draft-mcguinness-oauth-actor-profile §3.4), using
 * the vocabulary of draft-mora-oauth-entity-profiles §3.1. The kind is read live at every exchange:
 * for a person from the account directory (`profile`, default `user`), for a client from its
 * registered metadata (`client_profile`, draft-mora-oauth-entity-profiles §6, default `service`).
 */

/** A person: a support agent, an administrator (draft-mora-oauth-entity-profiles §3.1.1). */
export const USER_PROFILE = 'user';
/** A backend service or workload (draft-mora-oauth-entity-profiles §3.1.6). */
export const SERVICE_PROFILE = 'service';
/** An AI agent (draft-mora-oauth-entity-profiles §3.1.7). */
export const AI_AGENT_PROFILE = 'ai_agent';

/** The client metadata property naming a client's kind (draft-mora-oauth-entity-profiles §6). */
export const CLIENT_PROFILE = 'client_profile';

/** Whether a value is a valid entity profile (draft-mora-oauth-entity-profiles §3.3). */
export function isEntityProfile(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 200 && ENTITY_PROFILE.test(value);
}

/** The kind of a person acting: the directory's `profile`, else `user`. */
export function accountProfile(account: Pick<DirectoryAccount, 'profile'> | undefined): string {
  return isEntityProfile(account?.profile) ? account.profile : USER_PROFILE;
}

/** The kind of a client acting: its registered `client_profile`, else `service`. */
export function clientProfile(client: unknown): string {
  const value = (client as Record<string, unknown> | undefined)?.[CLIENT_PROFILE];
  return isEntityProfile(value) ? value : SERVICE_PROFILE;
}

/** Whether a profile value names a kind (profiles are space-separated, case-insensitive: §3.3). */
export function hasProfile(profile: string | undefined, kind: string): boolean {
  return profile !== undefined && profile.toLowerCase().split(' ').includes(kind.toLowerCase());
}

/** The words a subject reads for an actor: "an AI assistant, Orders Assistant (orders-assistant)", "Sam Support (support)". */
export function describeActor(actor: string, name: string | undefined, profile: string | undefined): string {
  const who = name && name !== actor ? `${name} (${actor})` : actor;
  if (hasProfile(profile, AI_AGENT_PROFILE)) return `an AI assistant, ${who},`;
  if (hasProfile(profile, SERVICE_PROFILE)) return `the service ${who}`;
  return who;
}

/** A short label of a kind for tables: "AI assistant", "service", "person". */
export function profileLabel(profile: string | undefined): string {
  if (hasProfile(profile, AI_AGENT_PROFILE)) return 'AI assistant';
  if (hasProfile(profile, SERVICE_PROFILE)) return 'service';
  if (profile === undefined || hasProfile(profile, USER_PROFILE)) return 'person';
  return profile;
}
