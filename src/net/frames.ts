import type { Stream } from '@libp2p/interface';
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils';

/**
 * Length-prefixed JSON frames over a libp2p stream (unsigned varint length, then the
 * UTF-8 JSON; the multiformats unsigned-varint framing every libp2p protocol uses).
 * Reads are bounded: a frame whose announced length exceeds `maxFrame` is refused
 * before its body is read.
 */
export class FrameStream {
  private readonly lp: LengthPrefixedStream<Stream>;

  constructor(
    readonly stream: Stream,
    readonly maxFrame: number,
    private readonly timeoutMs = 10_000,
  ) {
    // The read buffer must hold whatever the muxer lets through before we read (yamux
    // windows are 256 KiB), not just one frame.
    this.lp = lpStream(stream, { maxDataLength: maxFrame, maxBufferSize: maxFrame + 1024 * 1024 });
  }

  /** The next frame's bytes, or null when the remote half-closed cleanly between frames. */
  async readBytes(): Promise<Uint8Array | null> {
    try {
      return (await this.lp.read({ signal: AbortSignal.timeout(this.timeoutMs) })).subarray();
    } catch (e) {
      if ((e as Error).name === 'UnexpectedEOFError' && this.stream.remoteWriteStatus !== 'writable') return null;
      throw e;
    }
  }

  /** The next frame parsed as JSON; a frame that is not JSON throws `ProtocolError`. */
  async readJson(): Promise<unknown | null> {
    const bytes = await this.readBytes();
    if (bytes === null) return null;
    try {
      return JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch {
      throw new ProtocolError('malformed-frame', 'frame is not JSON');
    }
  }

  async writeBytes(data: Uint8Array): Promise<void> {
    await this.lp.write(data, { signal: AbortSignal.timeout(this.timeoutMs) });
  }

  async writeJson(value: unknown): Promise<void> {
    await this.writeBytes(Buffer.from(JSON.stringify(value)));
  }

  async close(): Promise<void> {
    await this.stream.close();
  }

  abort(e: Error): void {
    this.stream.abort(e);
  }
}

/** The remote broke a protocol rule: stop talking to it on this stream. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
