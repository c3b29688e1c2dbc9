import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeConfigDocument } from '../../src/node/config.js';
import { CLI, runInHome } from './cli.js';

/**
 * A real `bit4bit node start` process (the compiled CLI, as installed), optionally
 * inside a network namespace (`ip netns exec NS node ...`, which execs node itself, so
 * the pid is the node's and SIGKILL reaches it). Its stdout's first line is the API URL;
 * stdout and stderr are appended to `<home>/node.log`.
 */
export class NodeProcess {
  child: ChildProcess | undefined;
  apiUrl = '';
  private exit: Promise<number | null> | undefined;
  readonly configFile: string;
  readonly logFile: string;

  constructor(
    readonly name: string,
    readonly home: string,
    readonly netns?: string,
  ) {
    this.configFile = join(home, 'node.yaml');
    this.logFile = join(home, 'node.log');
  }

  /** `bit4bit --home HOME init`: a signing key and a config, as a user would start. */
  async init(): Promise<void> {
    const r = await runInHome(this.home, ['init']);
    if (r.code !== 0) throw new Error(`bit4bit init failed for ${this.name}: ${r.stderr}`);
  }

  /** Writes the node settings file (JSON is YAML). */
  async configure(doc: NodeConfigDocument): Promise<void> {
    await writeFile(this.configFile, `${JSON.stringify(doc, null, 2)}\n`);
  }

  async readConfig(): Promise<NodeConfigDocument> {
    return JSON.parse(await readFile(this.configFile, 'utf8')) as NodeConfigDocument;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the node and resolves with its API URL once it printed it. */
  async start(timeoutMs = 30_000): Promise<string> {
    const nodeArgs = [CLI, '--home', this.home, 'node', 'start', '--config', this.configFile, '--log-json'];
    const [cmd, args] = this.netns ? ['ip', ['netns', 'exec', this.netns, process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
    const env = { ...process.env };
    delete env.BIT4BIT_HOME;
    const log = createWriteStream(this.logFile, { flags: 'a' });
    log.write(`---- ${new Date().toISOString()} start ${this.name}\n`);
    const child = spawn(cmd, args as string[], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.apiUrl = '';
    this.exit = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    child.stderr!.pipe(log, { end: false });
    return new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => fail(new Error(`${this.name} printed no API URL within ${timeoutMs} ms`)), timeoutMs);
      const fail = (e: Error) => {
        clearTimeout(timer);
        reject(e);
      };
      child.on('error', fail);
      child.on('exit', (code, signal) => fail(new Error(`${this.name} exited (${code ?? signal}) before it was up; see ${this.logFile}`)));
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        log.write(d);
        out += d;
        const line = out.split('\n').find((l) => l.startsWith('http'));
        if (line && !this.apiUrl) {
          clearTimeout(timer);
          this.apiUrl = line.trim();
          resolve(this.apiUrl);
        }
      });
    });
  }

  /** Sends a signal and waits for the process to be gone. */
  async kill(signal: NodeJS.Signals): Promise<number | null> {
    if (!this.child || !this.running) return (await this.exit) ?? null;
    this.child.kill(signal);
    const code = (await this.exit) ?? null;
    this.apiUrl = '';
    return code;
  }

  /** SIGTERM (clean stop), SIGKILL if it is not gone within `graceMs`. Never throws. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.child || !this.running) return;
    const exited = this.exit!;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
    this.apiUrl = '';
  }

  async get<T = unknown>(path: string): Promise<T> {
    const res = await fetch(`${this.apiUrl}${path}`, { signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as T;
    if (!res.ok) throw new Error(`${this.name} GET ${path}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  }

  async health(): Promise<{ peerId: string; addresses: string[]; peers: number }> {
    return this.get('/healthz');
  }

  /** The envelope ids this node lists for a spec (GET /v1/specs/{id}/attestations). */
  async envelopeIds(spec: string): Promise<string[]> {
    const body = await this.get<{ attestations: { id: string }[] }>(`/v1/specs/${spec}/attestations`);
    return body.attestations.map((a) => a.id).sort();
  }

  async consensus(spec: string): Promise<{ state: string; digest?: string; votes: unknown[] } & Record<string, unknown>> {
    return this.get(`/v1/specs/${spec}/consensus`);
  }

  /** A counter from GET /metrics (sum over the series whose labels contain `labels`). */
  async metric(name: string, labels = ''): Promise<number> {
    const res = await fetch(`${this.apiUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
      if (labels && !line.includes(labels)) continue;
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  }

  /** The last lines of the node's log, for failure reports. */
  async logTail(lines = 40): Promise<string> {
    try {
      return (await readFile(this.logFile, 'utf8')).split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}

/** The node's libp2p address to dial: its first advertised multiaddr, with /p2p/<id>. */
export function dialAddress(health: { peerId: string; addresses: string[] }): string {
  const addr = health.addresses[0];
  if (!addr) throw new Error(`node ${health.peerId} advertises no address`);
  return addr.includes('/p2p/') ? addr : `${addr}/p2p/${health.peerId}`;
}

export async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let ok = false;
    let last: unknown;
    try {
      ok = await cond();
    } catch (e) {
      last = e;
    }
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
