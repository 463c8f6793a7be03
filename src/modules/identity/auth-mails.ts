/**
 * The identity emails. Each is queued with the executor of the caller's transaction, so it is sent only
 * if the change it announces commits. Links point at PUBLIC_URL; the token travels in the query string
 * and is never logged (the mailer logs recipient and subject only).
 *
 * Every template has a text and an HTML part. Variables are HTML-escaped in the HTML part by
 * `renderTemplate` (a display name such as `<script>` stays text), and each mail's variables are typed
 * below, so a missing one is a compile error rather than a runtime failure in the job.
 */
import type { SqlExecutor } from '../../core/db/database.js';
import { renderTemplate, type MailTemplate } from '../../core/mail/mail-template.js';
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
    text: 'Hello {{name}},\n\nSomeone (hopefully you) asked to reset your password. Open this link within one hour to choose a new one:\n\n{{link}}\n\nThe link works once. If it was not you, ignore this message: your password stays as it is.\n',
    html: layout(
      `<p>Hello {{name}},</p><p>Someone (hopefully you) asked to reset your password. The link is valid for one hour and works once.</p>${button('{{link}}', 'Choose a new password')}<p>If it was not you, ignore this message: your password stays as it is.</p>`,
    ),
  },
  passwordChanged: {
    subject: 'Your password was changed',
    text: 'Hello {{name}},\n\nThe password of your account {{email}} was changed at {{when}}. {{signedOut}}\n\nIf this was not you, reset your password now and contact support.\n',
    html: layout(
      `<p>Hello {{name}},</p><p>The password of your account <strong>{{email}}</strong> was changed at {{when}}. {{signedOut}}</p><p>If this was not you, reset your password now and contact support.</p>`,
    ),
  },
  confirmNewEmail: {
    subject: 'Confirm your new email address',
    text: 'Hello {{name}},\n\nOpen this link within 24 hours to make {{email}} the address of your account:\n\n{{link}}\n\nUntil you do, your account keeps its current address.\n',
    html: layout(
      `<p>Hello {{name}},</p><p>Open this link within 24 hours to make <strong>{{email}}</strong> the address of your account.</p>${button('{{link}}', 'Confirm my new address')}<p>Until you do, your account keeps its current address.</p>`,
    ),
  },
  emailChangeRequested: {
    subject: 'Your email address is being changed',
    text: 'Hello {{name}},\n\nSomeone asked to change the address of your account from {{email}} to {{newEmail}}. The change takes effect once the new address is confirmed. If this was not you, change your password now.\n',
    html: layout(
      `<p>Hello {{name}},</p><p>Someone asked to change the address of your account from <strong>{{email}}</strong> to <strong>{{newEmail}}</strong>. The change takes effect once the new address is confirmed.</p><p>If this was not you, change your password now.</p>`,
    ),
  },
  emailChanged: {
    subject: 'Your email address was changed',
    text: 'Hello {{name}},\n\nThe address of your account was changed from {{email}} to {{newEmail}} at {{when}}; this address no longer signs in or receives account mail. Your other sessions were signed out.\n\nIf this was not you, contact support now.\n',
    html: layout(
      `<p>Hello {{name}},</p><p>The address of your account was changed from <strong>{{email}}</strong> to <strong>{{newEmail}}</strong> at {{when}}; this address no longer signs in or receives account mail. Your other sessions were signed out.</p><p>If this was not you, contact support now.</p>`,
    ),
  },
} as const satisfies Record<string, MailTemplate>;

export type AuthMail = keyof typeof authMailTemplates;

/** The variables each mail needs (every `{{placeholder}}` of its three parts). */
export interface AuthMailVariables {
  verifyEmail: { name: string; email: string; link: string };
  resetPassword: { name: string; link: string };
  /** `when`: see {@link mailTimestamp}; `signedOut`: one sentence on which sessions were ended. */
  passwordChanged: { name: string; email: string; when: string; signedOut: string };
  /** `email` is the new address (the recipient). */
  confirmNewEmail: { name: string; email: string; link: string };
  /** Sent to the old address `email`. */
  emailChangeRequested: { name: string; email: string; newEmail: string };
  /** Sent to the old address `email` once the change is done. */
  emailChanged: { name: string; email: string; newEmail: string; when: string };
}

/** Where a mailed token is used: `<PUBLIC_URL>/auth/<action>?token=<token>`. */
export function authLink(publicUrl: string, action: 'verify-email' | 'reset-password' | 'confirm-email', token: string): string {
  return `${publicUrl}/auth/${action}?token=${encodeURIComponent(token)}`;
}

/** A moment as mails show it: `2025-01-31 14:05 UTC` (the reader's time zone is unknown). */
export function mailTimestamp(at: Date = new Date()): string {
  return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** Queues one identity mail to `to`, sent only if the transaction behind `executor` commits. */
export async function queueAuthMail<M extends AuthMail>(platform: Platform, executor: SqlExecutor, mail: M, to: string, variables: AuthMailVariables[M]): Promise<string> {
  return platform.queueMail({ to, ...renderTemplate(authMailTemplates[mail], { ...variables }) }, { db: executor });
}
