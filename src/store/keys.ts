/**
 * Key layout. Every key carries a Redis Cluster hash tag (the part in braces) naming the one thing
 * it belongs to, so a multi-key script (an entity and its consumed mark) never spans slots, while
 * unrelated entities spread over the cluster.
 *
 *   <p>{<Model>:<id>}            entity JSON (hash: payload + consumed)
 *   <p>{grant:<grantId>}         set of entity keys issued under a grant (expires with the last)
 *   <p>{uid:<uid>}               Session uid → session id
 *   <p>{userCode:<code>}         DeviceCode user code → device code id
 *   <p>{imp:<grantId>}           impersonation record (JSON), lives as long as its token
 *   <p>{imp-actor:<actor>}       set of impersonation grant ids of an actor
 *   <p>{imp-subject:<subject>}   set of impersonation grant ids of a subject
 *   <p>{imp-history:<subject>}   timeline of the impersonations started of a subject (the subject's page), 90 days
 *   <p>{imp-ended:<grantId>}     how and when a started impersonation ended (JSON), 90 days
 *   <p>{imp-source:<grantId>}    set of impersonation grant ids produced from an actor's grant
 *   <p>{imp-all}                 set of every live impersonation grant id
 *   <p>{imp-sources}             set of grant ids that some live impersonation derives from
 *   <p>{jwt:<jti>}               JWT access token record (revocation and introspection of JWTs)
 *   <p>{revocations}:seq|exp|n|epoch  the revocation feed: revoked JWTs in order, until their exp (src/store/redis-log.ts)
 *   <p>{ticket:<sha256>}         a browser-impersonation ticket (hash: payload + consumed), by digest
 *   <p>{web:<id>}                a server-side session of the extension's pages (console, subject's page)
 *   <p>{approval:<id>}           a request for the subject's approval (JSON): the answer and its window
 *   <p>{approval-use:<id>}       an approved request's single use (hash: payload + consumed), expires with its window
 *   <p>{approval-link:<id>}      the one-time link's single use (hash: payload + consumed), expires with the request
 *   <p>{approvals-subject:<s>}   set of approval ids of a subject
 *   <p>{approvals-actor:<a>}     set of approval ids an actor asked for
 *   <p>{imp-activity:<grantId>}  timeline of the requests an API accepted under an impersonation's token (receipts), 90 days
 *   <p>{delegation:<id>}         a delegation to an agent (JSON): who, what, until when, its state
 *   <p>{delegation-collect:<id>} the single collection of its subject token (hash: payload + consumed)
 *   <p>{delegations-subject:<s>} set of delegation ids of a subject
 *   <p>{delegations-agent:<a>}   set of delegation ids of an agent client
 *   <p>{settings}:<name>         shared settings: the switch, key material
 */
export class KeyLayout {
  constructor(readonly prefix: string) {}

  impersonationActivity(grantId: string): string {
    return `${this.prefix}{imp-activity:${grantId}}`;
  }

  delegation(id: string): string {
    return `${this.prefix}{delegation:${id}}`;
  }

  delegationCollect(id: string): string {
    return `${this.prefix}{delegation-collect:${id}}`;
  }

  delegationsOfSubject(subject: string): string {
    return `${this.prefix}{delegations-subject:${subject}}`;
  }

  delegationsOfAgent(agent: string): string {
    return `${this.prefix}{delegations-agent:${agent}}`;
  }

  entity(model: string, id: string): string {
    return `${this.prefix}{${model}:${id}}`;
  }

  /** The entity key of a model as `before + id + after` (for reads that follow ids stored in a value). */
  entityTemplate(model: string): { before: string; after: string } {
    return { before: `${this.prefix}{${model}:`, after: '}' };
  }

  grant(grantId: string): string {
    return `${this.prefix}{grant:${grantId}}`;
  }

  uid(uid: string): string {
    return `${this.prefix}{uid:${uid}}`;
  }

  userCode(code: string): string {
    return `${this.prefix}{userCode:${code}}`;
  }

  impersonation(grantId: string): string {
    return `${this.prefix}{imp:${grantId}}`;
  }

  impersonationsOfActor(actor: string): string {
    return `${this.prefix}{imp-actor:${actor}}`;
  }

  impersonationsOfSubject(subject: string): string {
    return `${this.prefix}{imp-subject:${subject}}`;
  }

  impersonationHistory(subject: string): string {
    return `${this.prefix}{imp-history:${subject}}`;
  }

  impersonationEnding(grantId: string): string {
    return `${this.prefix}{imp-ended:${grantId}}`;
  }

  impersonationsFromGrant(actorGrantId: string): string {
    return `${this.prefix}{imp-source:${actorGrantId}}`;
  }

  allImpersonations(): string {
    return `${this.prefix}{imp-all}`;
  }

  sourceGrants(): string {
    return `${this.prefix}{imp-sources}`;
  }

  jwt(jti: string): string {
    return `${this.prefix}{jwt:${jti}}`;
  }

  /** The ordered log of revoked JWTs the revocation feed serves (its keys add suffixes in the same slot). */
  revocations(): string {
    return `${this.prefix}{revocations}`;
  }

  ticket(digest: string): string {
    return `${this.prefix}{ticket:${digest}}`;
  }

  approval(id: string): string {
    return `${this.prefix}{approval:${id}}`;
  }

  approvalUse(id: string): string {
    return `${this.prefix}{approval-use:${id}}`;
  }

  approvalLink(id: string): string {
    return `${this.prefix}{approval-link:${id}}`;
  }

  approvalsOfSubject(subject: string): string {
    return `${this.prefix}{approvals-subject:${subject}}`;
  }

  approvalsOfActor(actor: string): string {
    return `${this.prefix}{approvals-actor:${actor}}`;
  }

  webSession(id: string): string {
    return `${this.prefix}{web:${id}}`;
  }

  setting(name: string): string {
    return `${this.prefix}{settings}:${name}`;
  }
}
