import { describe, expect, it } from "vitest";
import { cleanText } from "../../src/domain/clean-text.js";

describe("cleanText", () => {
  it.each([
    ["plain ASCII", "main"],
    ["accents and CJK", "fix: réparer 修复"],
    ["a surrogate pair (an emoji)", "ship it 🚀"],
    ["an empty string", ""],
    ["a backslash and u0000 as text", "\\u0000"],
  ])("returns sound text as it is: %s", (_label, value) => {
    expect(cleanText(value)).toBe(value);
  });

  it.each([
    ["a lone high surrogate", "feature/\ud800", "feature/\ufffd"],
    ["a lone low surrogate", "\udfffx", "\ufffdx"],
    ["a pair in the wrong order", "\udc00\ud800", "\ufffd\ufffd"],
    ["a high surrogate at the end after an emoji", "🚀\ud83d", "🚀\ufffd"],
    ["two high surrogates, then a low one", "\ud800\ud83d\ude80", "\ufffd🚀"],
  ])("makes each lone surrogate U+FFFD: %s", (_label, value, expected) => {
    expect(cleanText(value)).toBe(expected);
  });

  it("drops NUL characters", () => {
    expect(cleanText("\u0000a\u0000b\u0000")).toBe("ab");
  });

  it("does not join the halves of an emoji a NUL separated", () => {
    expect(cleanText("\ud83d\u0000\ude80")).toBe("\ufffd\ufffd");
  });

  it("gives text that UTF-8 carries unchanged", () => {
    for (const value of ["\ud800", "a\udc00b", "\u0000\ud83d", "🚀\ude80"]) {
      const cleaned = cleanText(value);
      expect(Buffer.from(cleaned, "utf8").toString("utf8")).toBe(cleaned);
      expect(cleaned).not.toContain("\u0000");
    }
  });
});
