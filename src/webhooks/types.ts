/**
 * The webhook event types (docs/audit.md): an impersonation started, refused or ended, and each step of
 * a subject-approved access request.
 */
export const WEBHOOK_EVENT_TYPES = [
  'impersonation.started',
  'impersonation.denied',
  'impersonation.ended',
  'approval.requested',
  'approval.granted',
  'approval.declined',
  'approval.revoked',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
