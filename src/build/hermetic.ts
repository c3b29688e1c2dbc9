import { spawn } from 'node:child_process';
import { Bit4bitError } from '../errors.js';

/**
 * Runs a build tool hermetically (issue #3, DESIGN §1):
 * - no network: a fresh network namespace with only a down loopback (`unshare --net`);
 * - its own PID namespace (`--pid --fork --kill-child`), so killing the runner on
 *   timeout or abort takes the whole process tree with it, however deep;
 * - a scrubbed environment: only what is listed here (TZ=UTC, C.UTF-8 locale,
 *   SOURCE_DATE_EPOCH, a private HOME and TMPDIR) plus the caller's explicit extras;
 * - umask 022;
 * - argv passed as an array, never through a shell, so nothing from a spec is ever
 *   interpreted by one.
 */

export interface HermeticOptions {
  cwd: string;
  /** Private HOME and TMPDIR for the tool (inside the build's fresh work dir). */
  home: string;
  tmpdir: string;
  sourceDateEpoch: number;
  /** Extra variables, e.g. BUILDAH_ISOLATION. Keys and values are passed as data. */
  env?: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Allow network access (only for fetch steps outside the build proper). */
  network?: boolean;
  /** Each line the tool prints (stdout and stderr), for progress. */
  onLine?: (line: string) => void;
}

export interface HermeticResult {
  stdout: string;
  /** The last 64 KiB of stderr, for error messages. */
  stderrTail: string;
}

const STDOUT_LIMIT = 16 * 1024 * 1024;
const TAIL_LIMIT = 64 * 1024;

export function scrubbedEnv(options: Pick<HermeticOptions, 'home' | 'tmpdir' | 'sourceDateEpoch' | 'env'>): Record<string, string> {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: options.home,
    TMPDIR: options.tmpdir,
    TZ: 'UTC',
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    SOURCE_DATE_EPOCH: String(options.sourceDateEpoch),
    ...options.env,
  };
}

/**
 * Runs `argv` and resolves with its output when it exits 0. Rejects with a
 * `build-error` (non-zero exit), `timeout` or `aborted` Bit4bitError.
 */
export function runHermetic(argv: readonly string[], options: HermeticOptions): Promise<HermeticResult> {
  const isolation = ['unshare', ...(options.network ? [] : ['--net']), '--pid', '--fork', '--kill-child', '--'];
  // `sh -c 'umask 022; exec "$@"'` sets the umask; the tool and its arguments arrive
  // as positional parameters, so the shell never parses any of them.
  const full = [...isolation, '/bin/sh', '-c', 'umask 022; exec "$@"', 'bit4bit-build', ...argv];
  return new Promise((resolve, reject) => {
    const child = spawn(full[0]!, full.slice(1), {
      cwd: options.cwd,
      env: scrubbedEnv(options),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderrTail = '';
    let partial = { out: '', err: '' };
    let failure: Bit4bitError | undefined;
    const kill = (why: Bit4bitError) => {
      failure ??= why;
      // The runner is the PID namespace's init: SIGKILL on its process group ends the tree.
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(
      () => kill(new Bit4bitError('timeout', `${argv[0]} did not finish within ${Math.round(options.timeoutMs / 1000)} s and was killed`, 'negative')),
      options.timeoutMs,
    );
    const onAbort = () => kill(new Bit4bitError('aborted', `${argv[0]} was stopped`, 'environment'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();

    const lines = (stream: 'out' | 'err', chunk: string) => {
      const text = partial[stream] + chunk;
      const parts = text.split('\n');
      partial = { ...partial, [stream]: parts.pop()! };
      for (const line of parts) options.onLine?.(line);
    };
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (stdout.length < STDOUT_LIMIT) stdout += chunk;
      lines('out', chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-TAIL_LIMIT);
      lines('err', chunk);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Bit4bitError('toolchain-mismatch', `cannot run ${argv[0]}: ${e.message}`, 'environment'));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      for (const rest of [partial.out, partial.err]) if (rest) options.onLine?.(rest);
      if (failure) reject(failure);
      else if (code === 0) resolve({ stdout, stderrTail });
      else {
        const last = stderrTail.trim().split('\n').slice(-8).join('\n');
        reject(new Bit4bitError('build-error', `${argv[0]} exited with ${code ?? signal}${last ? `:\n${last}` : ''}`, 'negative'));
      }
    });
  });
}
