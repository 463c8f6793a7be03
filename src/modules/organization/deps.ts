/** What the organization module's use-cases and routes share; built once by the module plugin. */
import type { Config } from '../../config.js';
import type { Platform } from '../../core/platform.js';
import type { IdentityDeps } from '../identity/index.js';

export interface OrganizationDeps {
  config: Config;
  platform: Platform;
  /** Password checks, sign-in and sessions (accept-invite, leaving, closing, ownership transfer). */
  identity: IdentityDeps;
}
