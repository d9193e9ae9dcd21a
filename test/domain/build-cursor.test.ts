import { describe, expect, it } from "vitest";
import { decodeBuildCursor, encodeBuildCursor } from "../../src/domain/build-cursor.js";

describe("build cursors", () => {
  it.each([
    { createdAt: "2026-03-09T10:00:00.123456", id: 42 },
    { createdAt: null, id: 7 },
  ])("read back the position they were written from ($createdAt, $id)", (cursor) => {
    const text = encodeBuildCursor(cursor);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeBuildCursor(text)).toEqual(cursor);
  });

  it.each([
    ["not base64url", "a/b"],
    ["no id", Buffer.from("2026-03-09T10:00:00.123456~").toString("base64url")],
    ["a day that does not exist", Buffer.from("2026-02-31T10:00:00.000000~1").toString("base64url")],
    ["milliseconds only", Buffer.from("2026-03-09T10:00:00.123~1").toString("base64url")],
    ["a third part", Buffer.from("2026-03-09T10:00:00.123456~1~2").toString("base64url")],
    ["an id too long", Buffer.from("~1234567890123456").toString("base64url")],
    ["empty", ""],
  ])("refuse %s", (_what, text) => {
    expect(decodeBuildCursor(text)).toBeNull();
  });
});
