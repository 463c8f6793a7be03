-- A person's memberships across tenants were readable through permissive policies keyed on app.user_id
-- (memberships_own_read, tenants_member_read). Permissive policies are OR-ed with the tenant policy in
-- every query of the app role, and the OR kept PostgreSQL from planning tenant reads on the tenant's
-- indexes (the member list read every membership of the tenant, then sorted). The cross-tenant read for
-- one person now goes through one view instead: it runs as its owner (security_invoker off), and only the
-- owner has person-read policies (created in src/core/db/roles.ts, as the owner role name is configurable).
DROP POLICY memberships_own_read ON memberships;
--> statement-breakpoint
DROP POLICY tenants_member_read ON tenants;
--> statement-breakpoint
CREATE VIEW person_memberships AS
  SELECT m.tenant_id, m.user_id, m.role, m.status, m.title, m.created_at,
         t.name AS tenant_name, t.slug AS tenant_slug, t.status AS tenant_status
    FROM memberships m
    JOIN tenants t ON t.id = m.tenant_id
   WHERE m.user_id = (SELECT app_current_user_id());
