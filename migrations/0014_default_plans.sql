-- The default plans (platform administrators change them, or add their own, through /api/v1/admin/plans).
-- Prices in minor units (USD cents); a null limit is unlimited.
INSERT INTO plans (id, code, name, description, currency, monthly_price, yearly_price, trial_days, limits, features, is_public, sort_order)
VALUES
  (uuidv7(), 'free', 'Free', 'For trying things out: one store and a small team.', 'USD', 0, 0, 0,
   '{"maxUsers": 3, "maxStores": 1, "maxStorageMb": 100, "maxApiCallsPerMonth": 10000, "maxWebhookEndpoints": 0, "maxApiKeys": 0}',
   '{}', true, 10),
  (uuidv7(), 'basic', 'Basic', 'For a small business with a few stores.', 'USD', 1900, 19000, 14,
   '{"maxUsers": 10, "maxStores": 3, "maxStorageMb": 1024, "maxApiCallsPerMonth": 100000, "maxWebhookEndpoints": 2, "maxApiKeys": 2}',
   '{api_keys,webhooks}', true, 20),
  (uuidv7(), 'pro', 'Pro', 'For growing teams: custom roles, audit export and priority support.', 'USD', 4900, 49000, 14,
   '{"maxUsers": 50, "maxStores": 20, "maxStorageMb": 10240, "maxApiCallsPerMonth": 1000000, "maxWebhookEndpoints": 10, "maxApiKeys": 10}',
   '{api_keys,webhooks,custom_roles,audit_export,priority_support}', true, 30),
  (uuidv7(), 'enterprise', 'Enterprise', 'No limits, single sign-on and everything else.', 'USD', 19900, 199000, 30,
   '{"maxUsers": null, "maxStores": null, "maxStorageMb": null, "maxApiCallsPerMonth": null, "maxWebhookEndpoints": null, "maxApiKeys": null}',
   '{api_keys,webhooks,custom_roles,audit_export,priority_support,sso}', true, 40)
ON CONFLICT (code) DO NOTHING;
