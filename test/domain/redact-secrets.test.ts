import { describe, expect, it } from "vitest";
import { redactSecrets } from "../../src/domain/redact-secrets.js";

describe("redactSecrets", () => {
  it.each([
    ["a classic personal token", "token=ghp_0123456789abcdefABCDEF0123456789abcd", "ghp_0123456789"],
    ["an OAuth token", "gho_16C7e42F292c6912E7710c838347Ae178B4a here", "gho_16C7"],
    ["an installation token", "x-access-token:ghs_abcdefghijklmnopqrstuvwxyz0123@github.com", "ghs_abcdefgh"],
    ["a user-to-server token", "ghu_abcdefghijklmnopqrstuvwxyz0123", "ghu_abcdef"],
    ["a refresh token", "ghr_abcdefghijklmnopqrstuvwxyz0123", "ghr_abcdef"],
    ["a fine-grained token", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "github_pat_11ABC"],
    ["a Slack bot token", "SLACK=xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp", "xoxb-1234"],
    ["a Slack user token", "xoxp-1234567890-0987654321", "xoxp-1234"],
    ["a Slack app token", "xapp-1-A0123456789-0123456789-abcdef", "xapp-1-A"],
    ["an AWS access key id", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"],
    ["a bearer token", "curl -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc-_def' https://x", "eyJhbGciOiJIUzI1NiJ9"],
    ["a token scheme header", "Authorization: token 0123456789abcdef0123", "0123456789abcdef0123"],
    ["a password in a URL", "cloning https://deploy:hunter2secret@git.example.com/acme/api.git", "hunter2secret"],
    ["a database URL password", "DATABASE_URL=postgres://app:s3cr3t-pass@db:5432/app", "s3cr3t-pass"],
  ])("removes %s", (_label, text, secret) => {
    const redacted = redactSecrets(text);
    expect(redacted).not.toContain(secret);
    expect(redacted).toContain("***");
  });

  it("keeps the user and host of a URL whose password it removes", () => {
    expect(redactSecrets("https://deploy:hunter2@git.example.com/x")).toBe("https://deploy:***@git.example.com/x");
  });

  it("removes a private key block whole, and one the excerpt cut off at either end", () => {
    const key = ["-----BEGIN RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEAx4Lq0bYQ9mHn1w6sYh8K3xT5vZr2pQ7uN0eL4fW9cD2kS1aB", "-----END RSA PRIVATE KEY-----"];
    const whole = redactSecrets(["before", ...key, "after"].join("\n"));
    expect(whole).not.toContain("MIIEowIBAAKCAQEA");
    expect(whole).toContain("before");
    expect(whole).toContain("after");
    expect(redactSecrets(["before", ...key.slice(0, 2)].join("\n"))).not.toContain("MIIEowIBAAKCAQEA");
    expect(redactSecrets([...key.slice(1), "after"].join("\n"))).not.toContain("MIIEowIBAAKCAQEA");
    expect(redactSecrets(key[1]!)).toBe("***");
  });

  it("leaves ordinary log lines alone", () => {
    const text = [
      "FAIL src/app.test.ts > adds numbers",
      "AssertionError: expected 3 to be 4 // Object.is equality",
      "commit 0123456789abcdef0123456789abcdef01234567",
      "see https://github.com/acme/api/pull/12",
      "ghp_ is the prefix of personal tokens",
    ].join("\n");
    expect(redactSecrets(text)).toBe(text);
  });
});
