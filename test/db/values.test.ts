import { describe, expect, it } from "vitest";
import { cleanText } from "../../src/domain/clean-text.js";
import { jsonText, text } from "../../src/db/values.js";

/** `value` with every string and key passed through cleanText. */
function deepClean(value: unknown): unknown {
  if (typeof value === "string") return cleanText(value);
  if (Array.isArray(value)) return value.map(deepClean);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [cleanText(k), deepClean(v)]));
  return value;
}

describe("jsonText", () => {
  it("writes sound values as JSON.stringify does", () => {
    const value = { branch: "main", message: "ship it 🚀 \\u0000 \\ud800", at: new Date("2026-01-01T00:00:00Z"), n: [1, null] };
    expect(jsonText(value)).toBe(JSON.stringify(value));
  });

  it("writes null for undefined", () => {
    expect(jsonText(undefined)).toBe("null");
  });

  it.each([
    ["a lone surrogate in a value", { branch: "feature/\ud800" }],
    ["a lone low surrogate in a nested array", { steps: [{ name: "x\udc00" }] }],
    ["a NUL in a value", { message: "a\u0000b" }],
    ["a NUL and a lone surrogate in a key", { "odd\u0000key\udbff": 1 }],
    ["escaped backslashes beside them", { text: "\\\ud800\\\\u0000\\\u0000\\ud800" }],
    ["halves of an emoji split by a NUL", { text: "\ud83d\u0000\ude80" }],
  ])("cleans as cleanText does, in keys and values: %s", (_label, value) => {
    // Strings that parse to clean text hold no escape PostgreSQL refuses (a NUL, a lone surrogate).
    expect(JSON.parse(jsonText(value))).toEqual(deepClean(value));
  });
});

describe("text", () => {
  it("cleans text for a text column", () => {
    expect(text("a\u0000b\ud800")).toBe("ab\ufffd");
    expect(text(null)).toBeNull();
  });
});
