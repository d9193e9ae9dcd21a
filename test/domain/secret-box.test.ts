import { describe, expect, it } from "vitest";
import { createSecretBox, SecretBoxError } from "../../src/domain/secret-box.js";
import type { SecretBox as AuthSecretBox } from "../../src/web/auth/create-auth.js";

const KEY = "k".repeat(16) + "0123456789abcdef0123";
const INFO = "runboard app credentials";
const PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n";

/** Flips one bit of the decoded byte at `index` (negative: from the end) and re-encodes. */
function flipByte(sealed: string, index: number): string {
  const bytes = Buffer.from(sealed.slice(3), "base64url");
  const at = index < 0 ? bytes.length + index : index;
  bytes[at] = bytes[at]! ^ 0x01;
  return `v1.${bytes.toString("base64url")}`;
}

describe("secret box", () => {
  const box = createSecretBox(KEY, INFO);

  it("opens what it sealed: PEM keys, empty and non-ASCII text", () => {
    for (const plain of [PEM, "", "webhook secret ✓ ünïcode", "x".repeat(10_000)]) {
      const sealed = box.seal(plain);
      expect(sealed.startsWith("v1.")).toBe(true);
      expect(box.open(sealed)).toBe(plain);
    }
  });

  it("hides the text and uses a fresh IV for every value", () => {
    const a = box.seal(PEM);
    const b = box.seal(PEM);
    expect(a).not.toBe(b);
    expect(Buffer.from(a.slice(3), "base64url").subarray(0, 12).equals(Buffer.from(b.slice(3), "base64url").subarray(0, 12))).toBe(false);
    expect(a).not.toContain("PRIVATE KEY");
    expect(Buffer.from(a.slice(3), "base64url").toString("latin1")).not.toContain("PRIVATE KEY");
    // IV, ciphertext of the same length as the text, tag.
    expect(Buffer.from(a.slice(3), "base64url").length).toBe(12 + Buffer.byteLength(PEM) + 16);
  });

  it("refuses to open with another SECRET_KEY", () => {
    const sealed = box.seal(PEM);
    const other = createSecretBox(`${KEY}-other`, INFO);
    expect(() => other.open(sealed)).toThrow(SecretBoxError);
    expect(() => other.open(sealed)).toThrow(/another SECRET_KEY/);
  });

  it("derives a separate key per purpose", () => {
    const sealed = box.seal(PEM);
    expect(() => createSecretBox(KEY, "runboard user tokens").open(sealed)).toThrow(SecretBoxError);
  });

  it("binds a value to its context", () => {
    const sealed = box.seal("the webhook secret", "webhook_secret");
    expect(box.open(sealed, "webhook_secret")).toBe("the webhook secret");
    expect(() => box.open(sealed, "client_secret")).toThrow(SecretBoxError);
    expect(() => box.open(sealed)).toThrow(SecretBoxError);
  });

  it("detects a change anywhere: IV, ciphertext or tag", () => {
    const sealed = box.seal(PEM);
    for (const index of [0, 11, 12, 40, -17, -1]) {
      expect(() => box.open(flipByte(sealed, index)), `byte ${index}`).toThrow(SecretBoxError);
    }
  });

  it("refuses unknown formats and truncated values", () => {
    const sealed = box.seal(PEM);
    expect(() => box.open(`v2.${sealed.slice(3)}`)).toThrow(/unknown format/);
    expect(() => box.open(PEM)).toThrow(/unknown format/);
    expect(() => box.open("v1.AAAA")).toThrow(/too short/);
    expect(() => box.open(sealed.slice(0, -4))).toThrow(SecretBoxError);
  });

  it("fits where the dashboard login seals the user's token", () => {
    const forLogin: AuthSecretBox = createSecretBox(KEY, "runboard user tokens");
    expect(forLogin.open(forLogin.seal("gho_token"))).toBe("gho_token");
  });
});
