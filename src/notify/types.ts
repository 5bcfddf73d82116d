import type { ImpersonationMode } from '../constants.js';

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
