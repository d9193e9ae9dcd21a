import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

/** Sealed values start with their format's version, so the format can change and old rows still open. */
const VERSION = "v1.";
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Seals secrets for storage with a key derived from `SECRET_KEY`. */
export interface SecretBox {
  /**
   * Encrypts `plain`. The result is text: the version, then base64url of IV, ciphertext and tag.
   * @param context bound to the value (authenticated, not stored): a sealed value opens only
   *   with the same context, so one stored secret cannot be passed off as another.
   */
  seal(plain: string, context?: string): string;
  /** Decrypts a value from {@link SecretBox.seal}; throws {@link SecretBoxError} when it cannot. */
  open(sealed: string, context?: string): string;
}

/** A sealed value did not open: another key, another context, or it was changed. */
export class SecretBoxError extends Error {
  override name = "SecretBoxError";
}

/**
 * AES-256-GCM under a key derived with HKDF-SHA256 from `secretKey`. Each purpose passes its
 * own `info`, so the key that seals one kind of secret never opens another; every value gets a
 * fresh random 12-byte IV.
 */
export function createSecretBox(secretKey: string, info: string): SecretBox {
  const key = Buffer.from(hkdfSync("sha256", secretKey, "", info, 32));
  return {
    seal(plain, context = "") {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      cipher.setAAD(Buffer.from(context, "utf8"));
      const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
      return VERSION + Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64url");
    },
    open(sealed, context = "") {
      if (!sealed.startsWith(VERSION)) {
        throw new SecretBoxError(`sealed value has an unknown format (expected the prefix ${VERSION})`);
      }
      const bytes = Buffer.from(sealed.slice(VERSION.length), "base64url");
      if (bytes.length < IV_BYTES + TAG_BYTES) {
        throw new SecretBoxError("sealed value is too short");
      }
      const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(context, "utf8"));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      try {
        return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString("utf8");
      } catch {
        throw new SecretBoxError("sealed value does not open: another SECRET_KEY sealed it, or it was changed");
      }
    },
  };
}
