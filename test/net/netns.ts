import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function ip(...args: string[]): Promise<string> {
  try {
    return (await run('ip', args, { timeout: 10_000 })).stdout;
  } catch (e) {
    throw new Error(`ip ${args.join(' ')}: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`);
  }
}

/** Why network namespaces cannot be used here, or undefined when they can (root + iproute2). */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: network namespaces need root (CI runs as root)';
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `\`ip netns\` is unavailable (${r.error?.message ?? r.stderr.trim()}); install iproute2`;
  return undefined;
}

/**
 * Hosts on one machine (MACHINE.md): one network namespace per host, each with two
 * interfaces wired to bridges in a hub namespace:
 *
 *   data (10.D.D.10+i/24) → bridge `xdata` (or `xpart`, the far side of a partition)
 *   mgmt (10.M.M.10+i/24) → bridge `xmgmt`, which also has a veth into the root namespace
 *                           (10.M.M.1), so the test process reaches every host's HTTP API
 *
 * libp2p listens on data addresses only; a partition moves hosts' data ports to the
 * other bridge, so the management plane stays up while the hosts cannot reach each other.
 * Every address lives in namespaces made here (and on the root end of our veth).
 */
export class Testbed {
  readonly prefix: string;
  readonly hub: string;
  readonly namespaces: string[];
  private readonly rootIf: string;
  private readonly dataNet: string;
  private readonly mgmtNet: string;
  private created = false;

  private constructor(
    readonly size: number,
    tag: string,
    mgmtNet: string,
    dataNet: string,
  ) {
    this.prefix = `b4b-${tag}`;
    this.hub = `${this.prefix}-hub`;
    this.namespaces = Array.from({ length: size }, (_, i) => `${this.prefix}-${i}`);
    this.rootIf = `b4b${tag}`;
    this.mgmtNet = mgmtNet;
    this.dataNet = dataNet;
  }

  /** Creates the hub, `size` host namespaces and the wiring. Destroys what it made on failure. */
  static async create(size: number): Promise<Testbed> {
    const tag = randomBytes(3).toString('hex');
    const mgmtNet = await freeRootSubnet();
    // The data plane exists only inside our namespaces: nothing in the root can clash.
    const dataNet = `10.${200 + (randomBytes(1)[0]! % 50)}.${randomBytes(1)[0]!}`;
    const bed = new Testbed(size, tag, mgmtNet, dataNet);
    try {
      await bed.setup();
    } catch (e) {
      await bed.destroy();
      throw e;
    }
    return bed;
  }

  dataAddress(i: number): string {
    return `${this.dataNet}.${10 + i}`;
  }

  mgmtAddress(i: number): string {
    return `${this.mgmtNet}.${10 + i}`;
  }

  private async setup(): Promise<void> {
    this.created = true;
    await ip('netns', 'add', this.hub);
    for (const ns of this.namespaces) await ip('netns', 'add', ns);
    const hubIp = (...args: string[]) => ip('-n', this.hub, ...args);
    for (const br of ['xdata', 'xpart', 'xmgmt']) {
      await hubIp('link', 'add', 'name', br, 'type', 'bridge');
      await hubIp('link', 'set', 'dev', br, 'up');
    }
    for (const [i, ns] of this.namespaces.entries()) {
      for (const [plane, bridge, address] of [
        ['data', 'xdata', this.dataAddress(i)],
        ['mgmt', 'xmgmt', this.mgmtAddress(i)],
      ] as const) {
        const hubEnd = `${plane[0]}${i}`;
        await ip('link', 'add', 'name', plane, 'netns', ns, 'type', 'veth', 'peer', 'name', hubEnd, 'netns', this.hub);
        await hubIp('link', 'set', 'dev', hubEnd, 'master', bridge);
        await hubIp('link', 'set', 'dev', hubEnd, 'up');
        await ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', plane);
        await ip('-n', ns, 'link', 'set', 'dev', plane, 'up');
      }
      await ip('-n', ns, 'link', 'set', 'dev', 'lo', 'up');
    }
    await ip('link', 'add', 'name', this.rootIf, 'type', 'veth', 'peer', 'name', 'mroot', 'netns', this.hub);
    await hubIp('link', 'set', 'dev', 'mroot', 'master', 'xmgmt');
    await hubIp('link', 'set', 'dev', 'mroot', 'up');
    await ip('addr', 'add', `${this.mgmtNet}.1/24`, 'dev', this.rootIf);
    await ip('link', 'set', 'dev', this.rootIf, 'up');
  }

  /** Cuts `hosts` off from the others: their data ports move to a separate bridge. */
  async partition(hosts: number[]): Promise<void> {
    for (const i of hosts) await ip('-n', this.hub, 'link', 'set', 'dev', `d${i}`, 'master', 'xpart');
  }

  /** Puts every data port back on the one bridge. */
  async heal(): Promise<void> {
    for (let i = 0; i < this.size; i++) await ip('-n', this.hub, 'link', 'set', 'dev', `d${i}`, 'master', 'xdata');
  }

  /** Removes the namespaces (and with them every veth). Call after the processes are gone. Never throws. */
  async destroy(): Promise<void> {
    if (!this.created) return;
    this.created = false;
    await ip('link', 'del', 'dev', this.rootIf).catch(() => undefined);
    for (const ns of [...this.namespaces, this.hub]) await ip('netns', 'del', ns).catch(() => undefined);
  }
}

/** A 10.x.y /24 (as "10.x.y") that no route or address in the root namespace touches. */
async function freeRootSubnet(): Promise<string> {
  const used = (await ip('-4', '-o', 'route', 'show', 'table', 'all')) + (await ip('-4', '-o', 'addr', 'show'));
  const ranges = [...used.matchAll(/\b(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/g)].map((m) => [toInt(m[1]!), Number(m[2] ?? 32)] as const);
  for (let attempt = 0; attempt < 100; attempt++) {
    const b = randomBytes(2);
    const candidate = `10.${150 + (b[0]! % 50)}.${b[1]!}`;
    const base = toInt(`${candidate}.0`);
    const overlaps = ranges.some(([addr, len]) => {
      if (len === 0) return false; // the default route is not a clash
      const l = Math.min(len, 24);
      const mask = l === 0 ? 0 : (~0 << (32 - l)) >>> 0;
      return ((addr & mask) >>> 0) === ((base & mask) >>> 0);
    });
    if (!overlaps) return candidate;
  }
  throw new Error('no free 10.x.y.0/24 in the root namespace');
}

function toInt(addr: string): number {
  return addr.split('.').reduce((n, o) => ((n << 8) | Number(o)) >>> 0, 0);
}
