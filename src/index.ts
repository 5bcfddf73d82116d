export { tokenExchange, type TokenExchange } from './extension.js';
export {
  ConfigurationError,
  parsePolicy,
  type AuthorizeInput,
  type AuthorizeResult,
  type ExchangeHooks,
  type ImpersonationPolicy,
  type PolicyInput,
  type ResourceServerDefinition,
  type TokenExchangeOptions,
} from './config.js';
export type { AccountDirectory, DirectoryAccount } from './accounts.js';
export type { AuditEvent, AuditEventName, AuditSink } from './audit/events.js';
export { MemoryAuditSink } from './audit/memory-sink.js';
export { ExchangeRefusal, type OAuthErrorCode, type RefusalRule } from './errors.js';
export { TOKEN_EXCHANGE_GRANT, TokenType, SUBJECT_REFUSAL } from './constants.js';
export type { ActClaim } from './claims/act.js';
export { createMemoryStore, createStore, KeyLayout, type Backend, type ImpersonationFilter, type ImpersonationRecord, type Store } from './store/index.js';
export { ADMIN_SCOPE, IMPERSONATION_AMR, LOOPBACK_INITIATE_LOGIN_URI, TICKET_PREFIX } from './constants.js';
export type { MintedTicket, TicketRequest } from './browser/tickets.js';
export type { ActorIdentity } from './exchange/rules.js';
export type { AccountPageOptions } from './account/page.js';
export type { AdminConsoleOptions } from './admin/console/index.js';
export { verifyWebhook } from './webhooks/signature.js';
export { pageNonce } from './web/provider-pages.js';
