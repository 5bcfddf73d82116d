/** docs/audit.md event names, and the steps of a subject-approved access request. */
export const AUDIT_EVENT_NAMES = [
  'exchange.granted',
  'exchange.denied',
  'ticket.minted',
  'ticket.redeemed',
  'token.revoked',
  'settings.changed',
  'approval.requested',
  'approval.granted',
  'approval.declined',
  'approval.revoked',
  'delegation.requested',
  'delegation.granted',
  'delegation.declined',
  'delegation.paused',
  'delegation.resumed',
  'delegation.ended',
  'delegation.collected',
  'api.request',
] as const;

export type AuditEventName = (typeof AUDIT_EVENT_NAMES)[number];

/** One audit record, as handed to a sink. No token value ever appears in it. */
export interface AuditEvent {
  readonly id: string;
  readonly time: string;
  readonly event: AuditEventName;
  readonly outcome: 'granted' | 'denied' | 'error';
  readonly rule?: string | undefined;
  readonly actor?: string | undefined;
  readonly subject?: string | undefined;
  readonly client_id?: string | undefined;
  readonly reason?: string | undefined;
  readonly scope?: string | undefined;
  readonly audience?: readonly string[] | undefined;
  readonly token_id?: string | undefined;
  readonly expires_at?: string | undefined;
  /** `read` for a read-only impersonation (absent: full); an approval's requested mode. */
  readonly mode?: 'read' | 'full' | undefined;
  /** The subject's approval a record is about, or that an impersonation was started under. */
  readonly approval_id?: string | undefined;
  /** The user's delegation to an agent a record is about, or that a token was derived from. */
  readonly delegation_id?: string | undefined;
  /** `api.request`: every actor of the token's `act` chain, the current one first (RFC 8693 §4.1). */
  readonly actors?: readonly string[] | undefined;
  /** `api.request`: the HTTP method, the path without its query, and the status the API answered. */
  readonly method?: string | undefined;
  readonly path?: string | undefined;
  readonly status?: number | undefined;
  /** `api.request`: when the API accepted the request (ISO 8601); `time` is when the provider recorded it. */
  readonly at?: string | undefined;
  readonly ip?: string | undefined;
  readonly user_agent?: string | undefined;
  readonly request_id?: string | undefined;
}

/**
 * A message for the record's subject that travels beside the record to its subscribers (a webhook
 * carries it as `notice`) and is never stored in it: the notices of src/notify/notice.ts. `link`,
 * when present, answers on the subject's behalf: no subscriber passes it on.
 */
export interface AuditNotice {
  readonly type: string;
  readonly subject: string;
  readonly link?: string | undefined;
}

/**
 * The store writes a record authorizes (the grant, the token, the index: the store's WriteBatch).
 * A log commits them with the record — in the record's own atomic write where it can — and never
 * before the record is durable.
 */
export interface RecordWrites {
  /** Commits the writes (once: later calls answer the same promise). */
  commit(): Promise<void>;
}

/**
 * What travels beside a record without being part of it: the notice addressed to the subject, and
 * the store writes the record authorizes (a chained log commits them with it; any other sink leaves
 * them to the caller, who commits them once `write` resolved).
 */
export interface AuditExtras {
  readonly notice?: AuditNotice | undefined;
  readonly batch?: RecordWrites | undefined;
}

/**
 * Where audit records go. `write` resolves once the record is durable; a rejection means it is not,
 * and the grant then issues nothing (docs/audit.md: no audit, no token). `extras` are for delivery only
 * (webhooks), never stored in the record.
 */
export interface AuditSink {
  write(event: AuditEvent, extras?: AuditExtras): Promise<void>;
  /**
   * Optional: writes many records of one action (a bulk revocation's), in order; rejects when any
   * could not be made durable. Without it each record is written on its own.
   */
  writeAll?(events: readonly AuditEvent[]): Promise<void>;
}
