/** What the identity module's use-cases and routes share; built once by the module plugin. */
import type { Config } from '../../config.js';
import type { Platform } from '../../core/platform.js';
import type { AttemptGuard } from './attempts.js';
import type { PasswordHasher } from './passwords.js';
import type { SessionLifetimes } from './sessions.js';
import type { AccessTokens } from './tokens.js';

export interface IdentityDeps {
  config: Config;
  platform: Platform;
  accessTokens: AccessTokens;
  passwords: PasswordHasher;
  attempts: AttemptGuard;
  lifetimes: SessionLifetimes;
  /** Encrypts TOTP secrets at rest (derived from AUTH_KEY_ENCRYPTION_KEY). */
  secretKey: Buffer;
}
