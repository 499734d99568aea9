/**
 * The browser tests drive a real Chromium through playwright-core. `npm test` runs this first (the
 * `pretest` script) so the README's test command finds one by itself on a fresh machine:
 *
 * - `CHROMIUM_PATH`, when set, must name an executable; nothing is installed then.
 * - Otherwise `/usr/bin/chromium` (Debian's package). When it is missing and this process runs as
 *   root on Debian, it installs `chromium` with apt-get, showing apt's progress; anywhere else it
 *   prints the one command to run and exits 1. A browser test is never skipped for want of a browser.
 *
 *   node scripts/ensure-chromium.ts      (npm test does this)
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';

export const DEBIAN_CHROMIUM = '/usr/bin/chromium';
const APT_INSTALL = ['install', '-y', '--no-install-recommends', 'chromium'];
/** Other engineers' apt-get on a shared machine holds the dpkg lock; wait for it instead of failing. */
const APT_LOCK_WAIT = ['-o', 'DPkg::Lock::Timeout=300'];

export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.CHROMIUM_PATH || DEBIAN_CHROMIUM;
}

export function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

const isDebian = (): boolean => existsSync('/etc/debian_version');
const isRoot = (): boolean => process.getuid?.() === 0;

/** What to tell a person whose machine has no Chromium where the tests look: the one command that fixes it. */
export function missingChromiumMessage(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CHROMIUM_PATH) {
    return (
      `CHROMIUM_PATH=${env.CHROMIUM_PATH} is not an executable file. Point it at a Chromium or Chrome executable, ` +
      `or unset it to use Debian's ${DEBIAN_CHROMIUM}.`
    );
  }
  const install = `apt-get update && apt-get install -y --no-install-recommends chromium`;
  const command = isDebian()
    ? isRoot()
      ? install
      : `sudo sh -c '${install}'`
    : `install Chromium, then: export CHROMIUM_PATH=/path/to/chromium`;
  return (
    `The browser tests need Chromium at ${DEBIAN_CHROMIUM} and there is none. Run:\n\n  ${command}\n\n` +
    '(`npm test` installs it by itself when it runs as root on Debian; CHROMIUM_PATH names another executable.)'
  );
}

function version(path: string): string {
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${path} --version failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr.trim()}`);
  return r.stdout.trim();
}

function apt(args: string[]): void {
  process.stderr.write(`ensure-chromium: apt-get ${args.join(' ')}\n`);
  const r = spawnSync('apt-get', [...APT_LOCK_WAIT, ...args], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.status !== 0) throw new Error(`apt-get ${args[0]} failed (${r.error?.message ?? `exit ${r.status}`})`);
}

const onPath = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/**
 * The chat test types into a real terminal through tmux, which a fresh machine of this kind may lack
 * as well: installed the same way, or named with the one command to run.
 */
export function ensureTmux(): void {
  if (onPath('tmux')) return;
  if (!isDebian() || !isRoot()) {
    throw new Error(
      `The chat test needs tmux and there is none on PATH. Run:\n\n  ${isDebian() ? 'sudo apt-get install -y tmux' : 'install tmux (brew install tmux, apt-get install tmux, ...)'}\n`,
    );
  }
  process.stderr.write("ensure-chromium: tmux is missing; installing Debian's tmux for the chat test\n");
  apt(['update']);
  apt(['install', '-y', '--no-install-recommends', 'tmux']);
  if (!onPath('tmux')) throw new Error('apt-get installed tmux but it is still not on PATH');
}

/** Returns the Chromium executable the tests will use, installing Debian's when that is possible. */
export function ensureChromium(env: NodeJS.ProcessEnv = process.env): string {
  const path = chromiumPath(env);
  if (isExecutableFile(path)) return path;
  if (env.CHROMIUM_PATH || !isDebian() || !isRoot()) throw new Error(missingChromiumMessage(env));
  process.stderr.write(
    `ensure-chromium: ${DEBIAN_CHROMIUM} is missing; installing Debian's chromium for the browser tests (a minute or two)\n`,
  );
  apt(['update']);
  apt(APT_INSTALL);
  if (!isExecutableFile(path)) throw new Error(`apt-get installed chromium but ${path} is still missing`);
  return path;
}

if (import.meta.main) {
  try {
    const path = ensureChromium();
    ensureTmux();
    process.stderr.write(`ensure-chromium: ${path} (${version(path)})\n`);
  } catch (err) {
    process.stderr.write(`ensure-chromium: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
