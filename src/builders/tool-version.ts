import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * The installed version of a build tool, parsed from the first match of `pattern` in
 * `tool --version` (C locale, so the output is the same everywhere); null when the
 * tool is not installed or prints no version.
 */
export async function installedToolVersion(tool: string, pattern: RegExp): Promise<string | null> {
  try {
    const { stdout } = await promisify(execFile)(tool, ['--version'], { timeout: 30_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C.UTF-8' } });
    return pattern.exec(stdout)?.[1] ?? null;
  } catch {
    return null;
  }
}
