import { describe, expect, it } from "vitest";
import { parseBuildsCommand } from "../../src/domain/parse-builds-command.js";

describe("parseBuildsCommand", () => {
  it.each([
    ["", { kind: "recent", repository: null, branch: null, failedOnly: false }],
    ["   ", { kind: "recent", repository: null, branch: null, failedOnly: false }],
    ["acme/api", { kind: "recent", repository: "acme/api", branch: null, failedOnly: false }],
    ["acme/api main", { kind: "recent", repository: "acme/api", branch: "main", failedOnly: false }],
    ["acme/api  feature/login-fix", { kind: "recent", repository: "acme/api", branch: "feature/login-fix", failedOnly: false }],
    ["failed", { kind: "recent", repository: null, branch: null, failedOnly: true }],
    ["FAILED acme/web", { kind: "recent", repository: "acme/web", branch: null, failedOnly: true }],
    ["acme/web failed", { kind: "recent", repository: "acme/web", branch: null, failedOnly: true }],
    ["stats", { kind: "stats", repository: null, days: 7 }],
    ["stats acme/api", { kind: "stats", repository: "acme/api", days: 7 }],
    ["stats 30d", { kind: "stats", repository: null, days: 30 }],
    ["stats acme/api 14d", { kind: "stats", repository: "acme/api", days: 14 }],
    ["stats 1D acme/api", { kind: "stats", repository: "acme/api", days: 1 }],
    ["help", { kind: "help" }],
    ["Help", { kind: "help" }],
    ["link", { kind: "link" }],
    ["digest", { kind: "digest", days: 7 }],
    ["digest 30d", { kind: "digest", days: 30 }],
  ])("reads %j", (text, expected) => {
    expect(parseBuildsCommand(text)).toEqual(expected);
  });

  it.each([
    ["main", "`main`"],
    ["acme/api main extra", "`extra`"],
    ["acme/api ma:in", "`ma:in`"],
    ["stats 0d", "1d to 90d"],
    ["digest acme/api", "takes a window at most"],
    ["digest 91d", "1d to 90d"],
    ["stats 365d", "1d to 90d"],
    ["stats acme/api acme/web", "`acme/web`"],
    ["stats weekly", "`weekly`"],
    ["help me", "help"],
    ["link now", "link"],
  ])("refuses %j with a message naming the problem", (text, fragment) => {
    const command = parseBuildsCommand(text);
    expect(command.kind).toBe("invalid");
    expect(command.kind === "invalid" && command.message).toContain(fragment);
  });
});
