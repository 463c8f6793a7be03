/**
 * The identity emails. Each is queued with the executor of the caller's transaction, so it is sent only
 * if the change it announces commits. Links point at PUBLIC_URL; the token travels in the query string
 * and is never logged (the mailer logs recipient and subject only).
 */
import type { SqlExecutor } from '../../core/db/database.js';
import { renderTemplate, type MailTemplate, type TemplateVariables } from '../../core/mail/mail-template.js';
import type { Platform } from '../../core/platform.js';

const layout = (body: string) =>
  `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1f2933;max-width:560px;margin:0 auto;padding:24px">${body}<p style="color:#7b8794;font-size:13px">If you did not expect this message, you can ignore it.</p></body></html>`;

const button = (href: string, label: string) =>
  `<p><a href="${href}" style="display:inline-block;background:#2563eb;color:#fff;padding:10px 18px;border-radius:6px;text-decoration:none">${label}</a></p><p style="font-size:13px">Or paste this link into your browser:<br>${href}</p>`;

export const authMailTemplates = {
  verifyEmail: {
    subject: 'Verify your email address',
    text: 'Hello {{name}},\n\nPlease confirm that {{email}} is your address by opening this link (valid for 48 hours):\n\n{{link}}\n',
    html: layout(`<p>Hello {{name}},</p><p>Please confirm that <strong>{{email}}</strong> is your address (the link is valid for 48 hours).</p>${button('{{link}}', 'Verify my email')}`),
  },
  resetPassword: {
    subject: 'Reset your password',
    text: 'Hello {{name}},\n\nSomeone (hopefully you) asked to reset your password. Open this link within one hour to choose a new one:\n\n{{link}}\n\nIf it was not you, your password stays as it is.\n',
    html: layout(`<p>Hello {{name}},</p><p>Someone (hopefully you) asked to reset your password. The link is valid for one hour.</p>${button('{{link}}', 'Choose a new password')}<p>If it was not you, your password stays as it is.</p>`),
  },
  passwordChanged: {
    subject: 'Your password was changed',
    text: 'Hello {{name}},\n\nThe password of your account {{email}} was just changed, and your other sessions were signed out. If this was not you, reset your password now and contact support.\n',
    html: layout(`<p>Hello {{name}},</p><p>The password of your account <strong>{{email}}</strong> was just changed, and your other sessions were signed out.</p><p>If this was not you, reset your password now and contact support.</p>`),
  },
  confirmNewEmail: {
    subject: 'Confirm your new email address',
    text: 'Hello {{name}},\n\nOpen this link within 24 hours to make {{email}} the address of your account:\n\n{{link}}\n',
    html: layout(`<p>Hello {{name}},</p><p>Open this link within 24 hours to make <strong>{{email}}</strong> the address of your account.</p>${button('{{link}}', 'Confirm my new address')}`),
  },
  emailChangeRequested: {
    subject: 'Your email address is being changed',
    text: 'Hello {{name}},\n\nSomeone asked to change the address of your account from {{email}} to {{newEmail}}. The change takes effect once the new address is confirmed. If this was not you, change your password now.\n',
    html: layout(`<p>Hello {{name}},</p><p>Someone asked to change the address of your account from <strong>{{email}}</strong> to <strong>{{newEmail}}</strong>. The change takes effect once the new address is confirmed.</p><p>If this was not you, change your password now.</p>`),
  },
} as const satisfies Record<string, MailTemplate>;

export type AuthMail = keyof typeof authMailTemplates;

/** Where a mailed token is used: `<PUBLIC_URL>/auth/<action>?token=<token>`. */
export function authLink(publicUrl: string, action: 'verify-email' | 'reset-password' | 'confirm-email', token: string): string {
  return `${publicUrl}/auth/${action}?token=${encodeURIComponent(token)}`;
}

/** Queues one identity mail to `to`, sent only if the transaction behind `executor` commits. */
export async function queueAuthMail(platform: Platform, executor: SqlExecutor, mail: AuthMail, to: string, variables: TemplateVariables): Promise<string> {
  return platform.queueMail({ to, ...renderTemplate(authMailTemplates[mail], variables) }, { db: executor });
}
