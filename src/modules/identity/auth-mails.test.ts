/** The identity mail templates: each renders with exactly its declared variables, in both parts, escaped. */
import { describe, expect, it } from 'vitest';
import { renderTemplate } from '../../core/mail/mail-template.js';
import { authLink, authMailTemplates, mailTimestamp, type AuthMail, type AuthMailVariables } from './auth-mails.js';

const NAME = `<img src=x onerror="alert('x')"> & Co`;
const link = authLink('https://app.atrium.test', 'reset-password', 'tok/en+=');

/** One sample per mail; typed by AuthMailVariables, so the declared variables and this list agree. */
const samples: { [M in AuthMail]: AuthMailVariables[M] } = {
  verifyEmail: { name: NAME, email: 'ann@example.test', link },
  resetPassword: { name: NAME, link },
  passwordChanged: { name: NAME, email: 'ann@example.test', when: '2025-01-31 14:05 UTC', signedOut: 'Every session was signed out.' },
  confirmNewEmail: { name: NAME, email: 'new@example.test', link },
  emailChangeRequested: { name: NAME, email: 'ann@example.test', newEmail: 'new@example.test' },
  emailChanged: { name: NAME, email: 'ann@example.test', newEmail: 'new@example.test', when: '2025-01-31 14:05 UTC' },
};

const placeholders = (source: string) => [...source.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((match) => match[1]);

describe('identity mail templates', () => {
  for (const mail of Object.keys(authMailTemplates) as AuthMail[]) {
    it(`${mail}: uses exactly its declared variables and renders a text and an HTML part`, () => {
      const template = authMailTemplates[mail];
      const used = new Set([template.subject, template.text, template.html].flatMap(placeholders));
      expect([...used].sort()).toEqual(Object.keys(samples[mail]).sort());

      const rendered = renderTemplate(template, samples[mail]);
      expect(rendered.subject).not.toMatch(/[{}\r\n]/);
      expect(rendered.text).toContain(NAME);
      expect(rendered.html).toContain('&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt; &amp; Co');
      expect(rendered.html).not.toContain('<img');
      if ('link' in samples[mail]) {
        expect(rendered.text).toContain(link);
        expect(rendered.html).toContain(`href="${link}"`);
      }
    });
  }

  it('puts the token in the link URL-encoded', () => {
    expect(link).toBe('https://app.atrium.test/auth/reset-password?token=tok%2Fen%2B%3D');
  });

  it('shows times in UTC to the minute', () => {
    expect(mailTimestamp(new Date('2025-01-31T14:05:59.999Z'))).toBe('2025-01-31 14:05 UTC');
  });
});
