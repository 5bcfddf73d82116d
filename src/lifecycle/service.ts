import { randomUUID } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { AccountDirectory, DirectoryAccount } from '../accounts.js';
import type { AuditRecorder, RequestFacts } from '../audit/recorder.js';
import type { ImpersonationPolicy } from '../config.js';
import { IMPERSONATION_AMR } from '../constants.js';
import type { Logger } from '../observability/logger.js';
import type { ImpersonationFilter, ImpersonationRecord, Store, SwitchState } from '../store/index.js';

/** Why impersonations ended, as the audit record's `rule` says. */
export type RevocationCause =
  | 'revoked_single'
  | 'revocation_not_allowed'
  | 'revoked_bulk_actor'
  | 'revoked_bulk_subject'
  | 'revoked_all'
  | 'kill_switch'
  | 'cascade_source_revoked'
  | 'cascade_actor_ineligible'
  | 'ended_by_subject'
  | 'ended_by_logout'
  | 'approval_revoked'
  | 'delegation_paused'
  | 'delegation_ended';

const BATCH = 2000;

function causeOf(filter: ImpersonationFilter): RevocationCause {
  if ('actor' in filter) return 'revoked_bulk_actor';
  if ('subject' in filter) return 'revoked_bulk_subject';
  if ('sourceGrantId' in filter) return 'cascade_source_revoked';
  return 'revoked_all';
}

/**
 * The life of impersonations after issue (docs/introspection-revocation.md): the shared switch, bulk revocation, and the
 * cascade — an impersonation ends with the grant it came from and with its actor's eligibility.
 * Everything lives in the store, so every instance sharing it agrees at once.
 */
export class ImpersonationLifecycle {
  constructor(
    private readonly store: Store,
    private readonly provider: Provider,
    private readonly accounts: AccountDirectory,
    private readonly policy: ImpersonationPolicy,
    private readonly recorder: AuditRecorder,
    /** Whether the provider's adapter is this store's: then tokens are deleted in bulk here. */
    private readonly sharedAdapter: boolean,
    private readonly logger?: Logger,
  ) {}

  /**
   * Whether the grant may issue now: the shared switch, or the configured default — closed when the
   * store lost its data (see `ImpersonationStore.switchState`), which is audited once per instance.
   */
  async isEnabled(): Promise<boolean> {
    return this.#noted(await this.store.impersonations.switchState(this.policy.enabled));
  }

  /** The switch's answer, auditing the moment it closed because the store lost its data. */
  async #noted(state: SwitchState): Promise<boolean> {
    if (state.dataLost && !state.enabled) {
      await this.recorder
        .record('settings.changed', { outcome: 'granted', rule: 'impersonation_disabled_store_emptied' }, { ip: undefined, userAgent: undefined, requestId: randomUUID() })
        .catch(() => undefined);
    }
    return state.enabled;
  }

  /**
   * RFC 7009 §2.1: a client that may not revoke an exchanged token is refused and the token left
   * alone; the attempt is audited (`token.revoked`, outcome `denied`).
   */
  async refuseRevocation(token: { clientId: string; subject: string | undefined; tokenId: string }, by: { actor: string; request: RequestFacts }): Promise<void> {
    await this.recorder
      .record(
        'token.revoked',
        { outcome: 'denied', rule: 'revocation_not_allowed', actor: by.actor, subject: token.subject, client_id: token.clientId, token_id: token.tokenId },
        by.request,
      )
      .catch(() => undefined);
  }

  /** Turns impersonation on or off for every instance; off also ends every live impersonation. */
  async setEnabled(enabled: boolean, by: { actor?: string | undefined; request: RequestFacts }): Promise<number> {
    await this.store.impersonations.setEnabled(enabled);
    await this.recorder.record('settings.changed', { outcome: 'granted', actor: by.actor, rule: enabled ? 'impersonation_enabled' : 'impersonation_disabled' }, by.request);
    return enabled ? 0 : this.revoke({ all: true }, { ...by, cause: 'kill_switch' });
  }

  list(filter: ImpersonationFilter): Promise<ImpersonationRecord[]> {
    return this.store.impersonations.list(filter);
  }

  /**
   * Ends every live impersonation the filter selects, and every impersonation derived from them
   * (chained exchanges), writing one `token.revoked` record each. Answers how many ended.
   */
  async revoke(filter: ImpersonationFilter, by: { actor?: string | undefined; request: RequestFacts; cause?: RevocationCause }): Promise<number> {
    return this.end(await this.store.impersonations.list(filter), by.cause ?? causeOf(filter), by);
  }

  /**
   * Ends the impersonation backed by this grant (if it is one) and every impersonation derived
   * from the grant. With `includeGrant`, a token-exchange grant that is no impersonation (a
   * delegation) has its tokens and grant deleted too.
   */
  async revokeGrant(
    grantId: string,
    cause: RevocationCause,
    by: { actor?: string | undefined; request: RequestFacts },
    options: { includeGrant?: boolean } = {},
  ): Promise<number> {
    const [record, derived] = await Promise.all([this.store.impersonations.get(grantId), this.store.impersonations.list({ sourceGrantId: grantId })]);
    if (!record && options.includeGrant) await this.deleteGrants([grantId]);
    return this.end(record ? [record, ...derived] : derived, cause, by);
  }

  /** Deletes grants with every token issued under them. */
  private async deleteGrants(grantIds: readonly string[]): Promise<void> {
    if (!this.sharedAdapter) {
      await Promise.all(grantIds.map((id) => Promise.all([this.provider.AccessToken.revokeByGrantId(id), this.provider.Grant.adapter.destroy(id)])));
    }
    await this.store.impersonations.deleteGrants(grantIds, (id) => this.store.keys.entity('Grant', id));
  }

  /**
   * docs/browser-impersonation.md §4: a browser impersonation ends with its provider session, on every instance (the
   * session lives in the shared store). A session signed in again since (another login) is left alone.
   * Unless `notified` (an RP-initiated logout, where oidc-provider has just sent them itself), every
   * client of the session that registered a `backchannel_logout_uri` is then sent an OpenID Connect
   * Back-Channel Logout 1.0 logout token (§2.4) naming the session's `sid`, from this instance only
   * (docs/browser-impersonation.md, "How an impersonation ends").
   */
  private async endSessions(records: readonly ImpersonationRecord[], notified: boolean): Promise<void> {
    await Promise.all(
      records
        .filter((r) => r.kind === 'browser' && r.sessionUid)
        .map(async (r) => {
          const session = await this.provider.Session.findByUid(r.sessionUid!);
          if (session?.accountId !== r.subject || !session.amr?.includes(IMPERSONATION_AMR)) return;
          const clients = Object.keys(session.authorizations ?? {}).map((clientId) => ({ clientId, sid: session.sidFor(clientId) }));
          await session.destroy();
          if (!notified) for (const { clientId, sid } of clients) this.#backchannelLogout(clientId, r.subject, sid);
        }),
    );
  }

  /** Sends one logout token (OpenID Connect Back-Channel Logout 1.0 §2.5); a failure is logged, never thrown. */
  #backchannelLogout(clientId: string, sub: string, sid: string | undefined): void {
    const sent = (async () => {
      const client = await this.provider.Client.find(clientId);
      const logout = (client as unknown as { backchannelLogout?: (sub: string, sid?: string) => Promise<void> } | undefined)?.backchannelLogout;
      if (!client?.backchannelLogoutUri || typeof logout !== 'function') return;
      await logout.call(client, sub, sid);
      this.logger?.info({ event: 'backchannel_logout.sent', client_id: clientId }, 'back-channel logout sent');
    })();
    sent.catch((err: unknown) => {
      this.logger?.warn({ event: 'backchannel_logout.failed', client_id: clientId, err: { name: (err as Error).name, message: (err as Error).message } }, 'back-channel logout failed');
    });
  }

  /**
   * Re-reads an actor's account and ends their impersonations when they may no longer
   * impersonate (disabled, deleted, role removed). Call it when accounts change.
   */
  async actorChanged(actorId: string, request: RequestFacts): Promise<number> {
    const account = await this.accounts.findAccount(actorId);
    if (account && this.mayImpersonate(account)) return 0;
    // A deleted account ends what its person started; a record that names no person (a service
    // acting under this id) ends only when an account of that id exists and may not impersonate.
    const records = await this.store.impersonations.list({ actor: actorId });
    const ended = records.filter((r) => r.actorAccount === actorId || (r.actorAccount === undefined && account !== undefined));
    return this.end(ended, 'cascade_actor_ineligible', { request });
  }

  /**
   * Whether a live exchanged token still stands: every grant it came from still exists, and — for an
   * impersonation — its record exists, the switch is on and its human actor may still impersonate.
   * A delegation without a record (issued before delegations were indexed) rests on its grant alone.
   */
  async stillStands(grantId: string, options: { impersonation: boolean } = { impersonation: true }): Promise<boolean> {
    // The record, the switch and the sources' grants in one read (one round trip on standalone Redis).
    const standing = await this.store.impersonations.standing(grantId, this.policy.enabled);
    const enabled = await this.#noted(standing.switchState);
    const { record } = standing;
    if (!record) return !options.impersonation;
    const human = record.actors.at(-1);
    if (human !== undefined && !enabled) return false;
    const [eligible, sourcesStand] = await Promise.all([this.#actorStillEligible(record), this.#sourcesStand(record, standing.sourcesExist)]);
    return eligible && sourcesStand;
  }

  /**
   * The person who started it must still exist and be allowed to impersonate (a deleted account
   * ends it); a record naming no person — a service acting, or a record written before records
   * named the account — is judged by its innermost actor.
   */
  #actorStillEligible(record: ImpersonationRecord): Promise<boolean> | boolean {
    if (record.actorAccount !== undefined) return this.accountMayImpersonate(record.actorAccount);
    const human = record.actors.at(-1);
    return human === undefined || this.actorEligible(human);
  }

  /** Whether every grant the record derives from still exists (asked of the provider when its adapter is not this store's). */
  async #sourcesStand(record: ImpersonationRecord, existInStore: readonly boolean[]): Promise<boolean> {
    if (this.sharedAdapter) return existInStore.length === record.sources.length && existInStore.every(Boolean);
    const grants = await Promise.all(record.sources.map((id) => this.provider.Grant.find(id)));
    return grants.every((grant) => grant !== undefined);
  }

  /** Whether an actor may still act: an account must be enabled and hold an actor role; a service actor (no account) may. */
  async actorEligible(actorId: string): Promise<boolean> {
    const account = await this.accounts.findAccount(actorId);
    return account === undefined || this.mayImpersonate(account);
  }

  /** Whether this is an account (not a service) that may impersonate now. */
  async accountMayImpersonate(accountId: string): Promise<boolean> {
    const account = await this.accounts.findAccount(accountId);
    return account !== undefined && this.mayImpersonate(account);
  }

  private mayImpersonate(account: DirectoryAccount): boolean {
    return !account.disabled && this.policy.actorRoles.some((role) => account.roles.includes(role));
  }

  private async end(records: ImpersonationRecord[], cause: RevocationCause, by: { actor?: string | undefined; request: RequestFacts }): Promise<number> {
    const seen = new Set<string>();
    let frontier = records;
    let ended = 0;
    while (frontier.length) {
      const fresh = frontier.filter((r) => !seen.has(r.grantId));
      fresh.forEach((r) => seen.add(r.grantId));
      // Each batch's records are written once its deletions are done, while the next batch's run.
      const recorded: Array<Promise<unknown>> = [];
      for (let i = 0; i < fresh.length; i += BATCH) {
        const batch = fresh.slice(i, i + BATCH);
        // Independent deletions, together; should one fail, a token whose record is gone no longer stands.
        await Promise.all([
          this.deleteGrants(batch.map((r) => r.grantId)),
          this.store.impersonations.forget(batch),
          this.endSessions(batch, cause === 'ended_by_logout'),
          this.store.impersonations.noteEnded(batch, cause, Math.floor(Date.now() / 1000)),
        ]);
        const records = this.recorder.recordAll(
          'token.revoked',
          // docs/audit.md: `actor` is who ended it; when nobody named did (a logout, a cascade), the person acting.
          batch.map((r) => ({ outcome: 'granted', rule: cause, actor: by.actor ?? r.actorAccount ?? r.actors.at(-1), subject: r.subject, client_id: r.clientId, token_id: r.tokenId, reason: r.reason })),
          by.request,
        );
        records.catch(() => undefined); // awaited below, with the others
        recorded.push(records);
      }
      await Promise.all(recorded);
      ended += fresh.length;
      const sources = await this.store.impersonations.sourcesAmong(fresh.map((r) => r.grantId));
      const derived = await Promise.all(sources.map((grantId) => this.store.impersonations.list({ sourceGrantId: grantId })));
      await this.store.impersonations.pruneSources(sources.filter((_, i) => derived[i]!.length === 0));
      frontier = derived.flat();
    }
    return ended;
  }
}
