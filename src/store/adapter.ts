import type { Adapter, AdapterConstructor, AdapterPayload } from 'oidc-provider';
import type { Backend, StoreWrite } from './backend.js';
import type { KeyLayout } from './keys.js';
import { RevocationLog } from './revocations.js';
import { currentBatch } from './write-batch.js';

/** Models whose entities oidc-provider revokes together through their `grantId`. */
const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

const epoch = () => Math.floor(Date.now() / 1000);

/** An oidc-provider adapter whose `consume` also tells the caller whether it won. */
export interface StoreAdapter extends Adapter {
  consume(id: string): Promise<undefined>;
  /** Marks the entity consumed; true for exactly one of any number of concurrent callers. */
  consumeOnce(id: string): Promise<boolean>;
}

/**
 * Builds oidc-provider's `adapter` (one instance per model name) over a {@link Backend}.
 * Grant indexes are written before their members, so a token is never stored where
 * `revokeByGrantId` cannot reach it.
 */
export function createAdapter(backend: Backend, keys: KeyLayout): AdapterConstructor {
  return class BackendAdapter implements StoreAdapter {
    readonly #model: string;

    constructor(model: string) {
      this.#model = model;
    }

    #key(id: string): string {
      return keys.entity(this.#model, id);
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<undefined> {
      const key = this.#key(id);
      const indexes: StoreWrite[] = [];
      if (GRANTABLE.has(this.#model) && typeof payload.grantId === 'string') {
        indexes.push({ op: 'addToSet', key: keys.grant(payload.grantId), member: key, ttlSeconds: expiresIn });
      }
      if (this.#model === 'Session' && typeof payload.uid === 'string') indexes.push({ op: 'set', key: keys.uid(payload.uid), value: id, ttlSeconds: expiresIn });
      if (typeof payload.userCode === 'string') indexes.push({ op: 'set', key: keys.userCode(payload.userCode), value: id, ttlSeconds: expiresIn });
      const entity: StoreWrite = { op: 'putEntity', key, json: JSON.stringify(payload), ttlSeconds: expiresIn };
      // Inside an exchange's write batch the model's save settles when the batch commits.
      const batch = currentBatch(backend);
      if (batch) {
        await batch.defer(...indexes, entity);
        return undefined;
      }
      // The indexes are written before the entity (in one script on standalone Redis), so a token is
      // never stored where revokeByGrantId cannot reach it.
      if (indexes.length) await backend.commit([...indexes, entity]);
      else await backend.putEntity(key, entity.json, expiresIn);
      return undefined;
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      const entity = await backend.getEntity(this.#key(id));
      if (!entity) return undefined;
      const payload = JSON.parse(entity.json) as AdapterPayload;
      return entity.consumed === undefined ? payload : { ...payload, consumed: entity.consumed };
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const id = await backend.get(keys.uid(uid));
      return id === undefined ? undefined : this.find(id);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const id = await backend.get(keys.userCode(userCode));
      return id === undefined ? undefined : this.find(id);
    }

    async consume(id: string): Promise<undefined> {
      await this.consumeOnce(id);
      return undefined;
    }

    async consumeOnce(id: string): Promise<boolean> {
      return backend.consumeEntity(this.#key(id), epoch());
    }

    async destroy(id: string): Promise<undefined> {
      const payload = await this.find(id);
      const doomed = [this.#key(id)];
      if (payload && typeof payload.uid === 'string' && (await backend.get(keys.uid(payload.uid))) === id) doomed.push(keys.uid(payload.uid));
      if (payload && typeof payload.userCode === 'string') doomed.push(keys.userCode(payload.userCode));
      await backend.delete(doomed);
      return undefined;
    }

    async revokeByGrantId(grantId: string): Promise<undefined> {
      await revokeGrantMembers(backend, keys, grantId);
      return undefined;
    }
  };
}

/**
 * Deletes every entity indexed under the grants, their user-code pointers, and the indexes. The JWT
 * access tokens among them are published to the revocation feed first: should that fail, nothing is
 * deleted and the revocation fails, rather than end a token the resource servers never hear of.
 */
export async function revokeGrantMembers(backend: Backend, keys: KeyLayout, ...grantIds: string[]): Promise<void> {
  const indexes = grantIds.map((grantId) => keys.grant(grantId));
  const members = (await backend.membersOfEach(indexes)).flat();
  const log = new RevocationLog(backend, keys);
  await log.publish(await log.revokedBy(members));
  const deviceCodes = keys.entity('DeviceCode', '');
  const pointers = await Promise.all(
    members
      .filter((key) => key.startsWith(deviceCodes))
      .map(async (key) => {
        const entity = await backend.getEntity(key);
        const code = entity ? (JSON.parse(entity.json) as { userCode?: unknown }).userCode : undefined;
        return typeof code === 'string' ? keys.userCode(code) : undefined;
      }),
  );
  await backend.delete([...members, ...pointers.filter((k): k is string => k !== undefined), ...indexes]);
}
