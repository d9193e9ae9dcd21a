import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, open } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

/** Where a Chromium or Chrome usually lives: Debian, Ubuntu, Google's package, macOS. */
const KNOWN_PATHS = [
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
  "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
  "/Applications/Chromium.app/Contents/MacOS/Chromium",
];
// chromium only recommends a font, and an image that skips recommends would render no text.
const APT_PACKAGES = ["chromium", "fonts-dejavu-core"];
const WHAT_TO_DO =
  "Install Chromium (Debian: `apt-get install chromium fonts-dejavu-core`) or set CHROMIUM_PATH to a Chromium or Chrome executable.";

export interface EnsureChromiumOptions {
  env?: NodeJS.ProcessEnv;
  /** Told before a long install starts, so a quiet minute does not look like a hang. */
  say?: (line: string) => void;
  /** Where apt-get's output goes. */
  logFile?: string;
}

/**
 * The path of a Chromium for the browser tests: `CHROMIUM_PATH` when set, else the first known
 * path that exists. With neither, and as root where apt-get exists, Debian's `chromium` is
 * installed, so `npm install && npm test` needs no other step on a fresh Debian machine.
 * Throws with what to install or set when there is no browser and none can be installed.
 */
export async function ensureChromium({
  env = process.env,
  say = (line) => process.stderr.write(`${line}\n`),
  logFile = path.join(os.tmpdir(), "runboard-chromium-install.log"),
}: EnsureChromiumOptions = {}): Promise<string> {
  if (env.CHROMIUM_PATH) {
    if (await isExecutable(env.CHROMIUM_PATH)) return env.CHROMIUM_PATH;
    throw new Error(`CHROMIUM_PATH is ${env.CHROMIUM_PATH}, which is not an executable file. ${WHAT_TO_DO}`);
  }
  const found = await firstExecutable(KNOWN_PATHS);
  if (found) return found;
  if (!(await canInstallWithApt())) {
    throw new Error(`The browser tests need Chromium and none was found (looked in ${KNOWN_PATHS.join(", ")}). ${WHAT_TO_DO}`);
  }
  say(`No Chromium found: installing ${APT_PACKAGES.join(" and ")} with apt-get for the browser tests, once (1-3 minutes; output in ${logFile}).`);
  const started = Date.now();
  try {
    await aptGet(["update"], { env, logFile });
    await aptGet(["install", "-y", ...APT_PACKAGES], { env, logFile });
  } catch (error) {
    throw new Error(`Installing Chromium with apt-get failed (${(error as Error).message}; see ${logFile}). ${WHAT_TO_DO}`);
  }
  const installed = await firstExecutable(KNOWN_PATHS);
  if (!installed) throw new Error(`apt-get installed ${APT_PACKAGES.join(" ")} but no Chromium appeared at ${KNOWN_PATHS[0]}. ${WHAT_TO_DO}`);
  say(`Chromium installed at ${installed} in ${Math.round((Date.now() - started) / 1000)} s.`);
  return installed;
}

async function isExecutable(file: string): Promise<boolean> {
  return access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
}

async function firstExecutable(files: string[]): Promise<string | undefined> {
  for (const file of files) if (await isExecutable(file)) return file;
  return undefined;
}

// Installing system packages is only attempted where it cannot prompt for a password.
async function canInstallWithApt(): Promise<boolean> {
  return (
    process.platform === "linux" &&
    process.getuid?.() === 0 &&
    (await isExecutable("/usr/bin/apt-get")) &&
    (await isExecutable("/usr/bin/flock"))
  );
}

async function aptGet(args: string[], { env, logFile }: { env: NodeJS.ProcessEnv; logFile: string }): Promise<void> {
  const log = await open(logFile, "a");
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      // Test runs started together (several people share a machine) would otherwise collide:
      // `apt-get update` fails at once on a held lock instead of waiting. flock is in util-linux,
      // which Debian always has; the dpkg lock timeout covers an apt-get run by someone else.
      const lock = path.join(os.tmpdir(), "runboard-chromium-install.lock");
      const child = spawn("/usr/bin/flock", [lock, "/usr/bin/apt-get", "-o", "DPkg::Lock::Timeout=300", ...args], {
        env: { ...env, DEBIAN_FRONTEND: "noninteractive" },
        stdio: ["ignore", log.fd, log.fd],
      });
      child.once("error", reject);
      child.once("close", resolve);
    });
    if (code !== 0) throw new Error(`apt-get ${args[0]} exited with ${code}`);
  } finally {
    await log.close();
  }
}
