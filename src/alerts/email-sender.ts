import nodemailer from "nodemailer";
import type { EmailMessage } from "./render-email.js";

/** Connecting, the greeting, and silence on an open connection: each fails an attempt after this. */
const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 };

/**
 * One send at most this long, whatever the server does (a server that trickles bytes resets
 * the socket time-out forever): the worker's lease is longer.
 */
export const EMAIL_SEND_DEADLINE_MS = 45_000;

export interface EmailSender {
  send(message: EmailMessage & { to: string[]; messageId: string }): Promise<void>;
  close(): void;
}

/**
 * Sends email through `SMTP_URL` (smtp:// or smtps://, credentials in the URL) over pooled
 * connections, with timeouts so that an unreachable server fails an attempt instead of hanging it.
 */
export function createEmailSender(options: {
  smtpUrl: string;
  from: string;
  /** Tests shorten these. */
  timeouts?: { connectionTimeout: number; greetingTimeout: number; socketTimeout: number; sendDeadlineMs: number };
}): EmailSender {
  const timeouts = options.timeouts ?? { ...SMTP_TIMEOUTS, sendDeadlineMs: EMAIL_SEND_DEADLINE_MS };
  const url = new URL(options.smtpUrl);
  const secure = url.protocol === "smtps:";
  const transport = nodemailer.createTransport({
    host: url.hostname,
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
    pool: true,
    maxConnections: 2,
    connectionTimeout: timeouts.connectionTimeout,
    greetingTimeout: timeouts.greetingTimeout,
    socketTimeout: timeouts.socketTimeout,
  });
  return {
    async send(message) {
      const sent = transport.sendMail({
        from: options.from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        html: message.html,
        // The same alert always has the same Message-ID, so a resend after a crash is recognisable.
        messageId: message.messageId,
      });
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`SMTP send took longer than ${timeouts.sendDeadlineMs} ms`)), timeouts.sendDeadlineMs);
      });
      // The abandoned send still ends on its own socket time-out; its answer is not awaited.
      sent.catch(() => undefined);
      try {
        await Promise.race([sent, deadline]);
      } finally {
        clearTimeout(timer);
      }
    },
    close() {
      transport.close();
    },
  };
}
