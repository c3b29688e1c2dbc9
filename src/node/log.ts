import { pino, type Logger } from 'pino';

export type { Logger };

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/**
 * The node's logger: JSON lines (pino's format) with `json`, else one readable line per
 * event: `time LEVEL message key=value ...`. Callers never pass secrets: keys and
 * tokens are not in any log field.
 */
export function createLogger({ json = false, level = 'info', destination = process.stderr }: { json?: boolean; level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  if (json) return pino({ level, base: undefined }, destination);
  return pino({ level, base: undefined }, { write: (line: string) => destination.write(formatLine(line)) });
}

/** A logger that drops everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

function formatLine(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, msg, ...rest } = record;
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
    .join(' ');
  const when = typeof time === 'number' ? new Date(time).toISOString() : '';
  return `${when} ${(LEVELS[level as number] ?? String(level)).padEnd(5)} ${String(msg ?? '')}${fields ? `  ${fields}` : ''}\n`;
}
