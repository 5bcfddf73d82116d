import type Provider from 'oidc-provider';
import { ConfigurationError } from '../config.js';
import type { ImpersonationLifecycle } from '../lifecycle/service.js';
import type { HostFacts } from './configuration.js';
import type { AfterRegister } from './foundation.js';
import type { Registered } from './registered.js';

/**
 * The extension's two steps after its options: `configuration(host)` reads the host's
 * configuration, `register(provider)` builds what needs the provider. Every public method reaches
 * the registered parts through {@link Phases.registered}, which names the missing step.
 */
export class Phases implements AfterRegister {
  #host: HostFacts | undefined;
  #registered: Registered | undefined;

  /** `configuration(host)` ran (again: its last call counts). */
  configured(host: HostFacts): void {
    this.#host = host;
  }

  /** Runs `build` once, with what `configuration()` read; throws before `configuration()` or on a second call. */
  register(build: (host: HostFacts) => Registered): void {
    if (!this.#host) {
      throw new ConfigurationError('build the provider from exchange.configuration(yourConfiguration) before exchange.register(provider)');
    }
    if (this.#registered) throw new ConfigurationError('token exchange is already registered');
    this.#registered = build(this.#host);
  }

  /** The registered parts; throws a {@link ConfigurationError} before `register(provider)`. */
  registered(): Registered {
    if (!this.#registered) throw new ConfigurationError('register the extension on a provider first: exchange.register(provider)');
    return this.#registered;
  }

  /** Whether `register(provider)` ran. */
  isRegistered(): boolean {
    return this.#registered !== undefined;
  }

  provider(): Provider {
    return this.registered().provider;
  }

  lifecycle(): ImpersonationLifecycle {
    return this.registered().lifecycle;
  }
}
