import nodemailer from "nodemailer";
import type { EmailMessage } from "./render-email.js";

export interface EmailSender {
  send(message: EmailMessage & { to: string[]; messageId: string }): Promise<void>;
  close(): void;
}

/**
 * Sends email through `SMTP_URL` (smtp:// or smtps://, credentials in the URL) over pooled
 * connections, with timeouts so that an unreachable server fails an attempt instead of hanging it.
 */
export function createEmailSender(options: { smtpUrl: string; from: string }): EmailSender {
  const url = new URL(options.smtpUrl);
  const secure = url.protocol === "smtps:";
  const transport = nodemailer.createTransport({
    host: url.hostname,
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
    pool: true,
    maxConnections: 2,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  });
  return {
    async send(message) {
      await transport.sendMail({
        from: options.from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        html: message.html,
        // The same alert always has the same Message-ID, so a resend after a crash is recognisable.
        messageId: message.messageId,
      });
    },
    close() {
      transport.close();
    },
  };
}
