/** Names a tenant may not take: they collide with hostnames, routes or support addresses. */
export const RESERVED_SLUGS = [
  'admin', 'api', 'app', 'apps', 'assets', 'auth', 'billing', 'blog', 'cdn', 'console', 'dashboard', 'dev',
  'docs', 'help', 'internal', 'login', 'logout', 'mail', 'me', 'new', 'null', 'platform', 'root', 'signup',
  'smtp', 'static', 'status', 'support', 'system', 'undefined', 'www',
] as const;

const SLUG_FORMAT = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

export type SlugProblem = 'format' | 'reserved';

/** Returns why a slug is unacceptable, or null when it may be used (uniqueness is the database's job). */
export function checkSlug(slug: string): SlugProblem | null {
  if (!SLUG_FORMAT.test(slug) || slug.includes('--')) return 'format';
  if ((RESERVED_SLUGS as readonly string[]).includes(slug)) return 'reserved';
  return null;
}

/** Derives a slug candidate from a display name ("Café Ñandú" → "cafe-nandu"). */
export function slugify(name: string): string {
  const base = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 50)
    .replace(/-+$/g, '');
  return base.length >= 3 ? base : `${base || 'tenant'}-${Math.random().toString(36).slice(2, 8)}`;
}
