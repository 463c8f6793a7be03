/**
 * What `atrium seed` prints: who can sign in (and as what), the tenants' plans, and a login request to
 * copy. Everything but the first line depends only on the demo's definition and the database, so a
 * second run prints the same details.
 */
import { DEMO_ADMIN, DEMO_TENANTS, SAM, demoPeople, type DemoMember, type SeedCounts, type SeedResult, type SeededTenant } from './seed.js';

/** One line per (person, tenant): email, password, tenant, role. */
function signInRows(password: string): string[][] {
  const rows: string[][] = [];
  for (const person of demoPeople()) {
    const access: Array<[string, string]> = person.email === DEMO_ADMIN.email ? [['(platform)', 'platform admin (/api/v1/admin)']] : [];
    for (const tenant of DEMO_TENANTS) {
      const member = tenant.members.find((candidate) => candidate.email === person.email);
      if (member) access.push([tenant.slug, describeRole(member)]);
    }
    access.forEach(([tenant, role], index) => rows.push(index === 0 ? [person.email, password, tenant, role] : ['', '', tenant, role]));
  }
  return rows;
}

function describeRole(member: DemoMember): string {
  const extras = [
    member.store && `${member.store.role.replace('_', ' ')} of ${member.store.code}`,
    member.customRole && `custom role "${member.customRole}"`,
  ].filter(Boolean);
  return [member.role, ...extras].join(', ');
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}

const CREATED_LABELS: Record<keyof SeedCounts, [string, string]> = {
  people: ['person', 'people'],
  tenants: ['tenant', 'tenants'],
  stores: ['store', 'stores'],
  memberships: ['membership', 'memberships'],
  storeMembers: ['store assignment', 'store assignments'],
  roles: ['custom role', 'custom roles'],
  roleAssignments: ['custom role assignment', 'custom role assignments'],
};

const day = (date: Date) => date.toISOString().slice(0, 10);

function describePlan(tenant: SeededTenant): string {
  const { status, billingCycle, currentPeriodEnd, trialEndsAt } = tenant.subscription;
  const state = status === 'trialing' && trialEndsAt ? `trialing until ${day(trialEndsAt)}` : `${status}, ${billingCycle}, period ends ${day(currentPeriodEnd)}`;
  const suspended = tenant.status === 'active' ? '' : ` [tenant ${tenant.status}]`;
  return `  ${tenant.name} (${tenant.slug}, id ${tenant.id}): ${tenant.plan.name} plan, ${state}; ${tenant.stores} stores${suspended}`;
}

/** The whole report; `production` adds a warning (seeding there takes --force). */
export function formatSeedReport(result: SeedResult, options: { publicUrl: string; production?: boolean }): string {
  const counts = Object.entries(result.created).filter(([, count]) => count > 0);
  const lines = [
    counts.length === 0
      ? 'Demo data already present; nothing changed.'
      : `Demo data created: ${counts.map(([what, count]) => `${count} ${CREATED_LABELS[what as keyof SeedCounts][count === 1 ? 0 : 1]}`).join(', ')}.`,
  ];
  if (options.production) lines.push('WARNING: these accounts share a published password. Remove them (or change their passwords) on any system others can reach.');
  lines.push('', `Sign in with POST ${options.publicUrl}/api/v1/auth/login (add "tenantId" to choose among several tenants):`, '');
  lines.push(...table(['EMAIL', 'PASSWORD', 'TENANT', 'ROLE'], signInRows(result.password)).map((line) => `  ${line}`));
  lines.push('', 'Tenants:', ...result.tenants.map(describePlan));
  const clinic = result.tenants.find((tenant) => tenant.slug === 'demo-clinic') ?? result.tenants[0]!;
  const body = JSON.stringify({ email: SAM.email, password: result.password, tenantId: clinic.id });
  lines.push('', 'Try it:', `  curl -s -X POST ${options.publicUrl}/api/v1/auth/login -H 'content-type: application/json' -d '${body}'`);
  lines.push('Running `atrium seed` again adds only what is missing: it never resets a password or a role changed since.');
  return lines.join('\n');
}
