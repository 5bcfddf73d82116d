import { describeActor } from '../claims/profiles.js';
import type { ApprovalRequestedNotice, ImpersonationStartedNotice } from './types.js';

export type { ApprovalRequestedNotice, ImpersonationStartedNotice, SubjectNotice } from './types.js';

/** "2026-11-21 12:00 UTC" */
export function utc(iso: string): string {
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}

function who(actor: string, name: string | undefined): string {
  return name && name !== actor ? `${name} (${actor})` : actor;
}

function until(startedAt: string, end: string): string {
  return startedAt.slice(0, 10) === end.slice(0, 10) ? `${end.slice(11, 16)} UTC` : utc(end);
}

/** The sentence telling the subject what happened: who, what, where, when, until when, why. */
export function startedMessage(n: Omit<ImpersonationStartedNotice, 'type' | 'message' | 'subject'>, options: { withReason?: boolean } = {}): string {
  const what = n.mode === 'read' ? 'viewed your account (read-only)' : 'signed in as you';
  const why = n.reason === undefined ? '' : options.withReason === false ? ' (reason withheld here)' : `, because: ${n.reason}`;
  const actor = describeActor(n.actor, n.actor_name, n.actor_profile);
  return `${actor.charAt(0).toUpperCase()}${actor.slice(1)} ${what} in ${n.client_id} on ${utc(n.started_at)}, until ${until(n.started_at, n.until)}${why}.`;
}

/** The sentence asking the subject for approval. */
export function approvalMessage(n: Omit<ApprovalRequestedNotice, 'type' | 'message' | 'subject' | 'link'>, options: { withReason?: boolean } = {}): string {
  const what = n.mode === 'read' ? 'view your account (read-only)' : 'sign in as you';
  const minutes = Math.round(n.duration_seconds / 60);
  const why = n.reason === undefined ? '' : options.withReason === false ? ' (reason withheld here)' : `, because: ${n.reason}`;
  return `${who(n.actor, n.actor_name)} asks to ${what} for up to ${minutes} minutes${why}. Approve or decline by ${utc(n.answer_by)}.`;
}

export function startedNotice(input: Omit<ImpersonationStartedNotice, 'type' | 'message'>): ImpersonationStartedNotice {
  return { type: 'impersonation.started', ...input, message: startedMessage(input) };
}

export function approvalRequestedNotice(input: Omit<ApprovalRequestedNotice, 'type' | 'message'>): ApprovalRequestedNotice {
  return { type: 'approval.requested', ...input, message: approvalMessage(input) };
}
