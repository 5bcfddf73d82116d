/** SPEC §5 event names. Ticket, revocation and settings events are emitted by later surfaces. */
export type AuditEventName =
  | 'exchange.granted'
  | 'exchange.denied'
  | 'ticket.minted'
  | 'ticket.redeemed'
  | 'token.revoked'
  | 'settings.changed';

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
  readonly ip?: string | undefined;
  readonly user_agent?: string | undefined;
  readonly request_id?: string | undefined;
}

/**
 * Where audit records go. `write` resolves once the record is durable; a rejection means it is not,
 * and the grant then issues nothing (SPEC §5: no audit, no token).
 */
export interface AuditSink {
  write(event: AuditEvent): Promise<void>;
}
