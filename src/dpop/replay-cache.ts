/**
 * Records a DPoP proof's `jti` (RFC 9449 §11.1). `remember` answers `true` the first time a key
 * is seen and `false` for a replay; it keeps a key at least until `expiresAt` (epoch ms). Share
 * one (e.g. on Redis) between the instances of an API so a proof cannot be replayed on another.
 */
export interface ReplayCache {
  remember(key: string, expiresAt: number): boolean | Promise<boolean>;
}
