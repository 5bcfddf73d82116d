import type { ImpersonationMode } from '../constants.js';
import { describeActor } from '../exchange/actor-profiles.js';

/**
 * The subject is told (beyond RFC 8693): an impersonation of their account started. Addressed to
 * the subject, so an operator's mailer or in-app inbox can send it as it is.
 */
export interface ImpersonationStartedNotice {
  readonly type: 'impersonation.started';
  /** The subject's account id: whom to tell. */
  readonly subject: string;
  readonly actor: string;
  /** The actor's display name from the account directory, when it has one. */
  readonly actor_name: string | undefined;
  /** The actor's kind, as `act.sub_profile` names it (`user`, `ai_agent`, `service`). */
  readonly actor_profile?: string | undefined;
  readonly reason: string | undefined;
  readonly client_id: string;
  /** ISO 8601. */
  readonly started_at: string;
  /** ISO 8601: the impersonation ends at the latest then. */
  readonly until: string;
  readonly mode: ImpersonationMode;
  /** Present when the subject approved this access beforehand. */
  readonly approval_id?: string | undefined;
  /** The whole notice as one sentence, ready to send. */
  readonly message: string;
}

/** Support asks for the subject's approval before acting as them. */
export interface ApprovalRequestedNotice {
  readonly type: 'approval.requested';
  readonly subject: string;
  readonly actor: string;
  readonly actor_name: string | undefined;
  readonly reason: string | undefined;
  /** Space-separated; absent: whatever policy allows. */
  readonly scope: string | undefined;
  readonly duration_seconds: number;
  readonly mode: ImpersonationMode;
  readonly approval_id: string;
  /** ISO 8601: the request lapses unanswered then. */
  readonly answer_by: string;
  /**
   * A signed, single-use, expiring link to approve or decline (when the account page is mounted).
   * Only `hooks.notifySubject` receives it — never a webhook or a log: whoever holds it can answer.
   */
  readonly link?: string | undefined;
  readonly message: string;
}

/** What `hooks.notifySubject` receives, and what a webhook carries as `notice`. */
export type SubjectNotice = ImpersonationStartedNotice | ApprovalRequestedNotice;

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

/** The notice as a webhook may carry it: never the one-time link. */
export function forWebhook(notice: SubjectNotice): SubjectNotice {
  if (notice.type !== 'approval.requested' || notice.link === undefined) return notice;
  const { link: _link, ...rest } = notice;
  return rest;
}
