import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

let root: string | undefined;

/**
 * A path inside the project's folder (the one holding package.json), wherever this file
 * runs from: `src/` under tsx or `dist/src/` when compiled.
 */
export function projectPath(...parts: string[]): string {
  if (!root) {
    let dir = path.dirname(fileURLToPath(import.meta.url));
    while (!existsSync(path.join(dir, "package.json"))) {
      const parent = path.dirname(dir);
      if (parent === dir) throw new Error("package.json not found above " + fileURLToPath(import.meta.url));
      dir = parent;
    }
    root = dir;
  }
  return path.join(root, ...parts);
}
