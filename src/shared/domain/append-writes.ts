// An append's bytes on their way to the sink: the request's chunks (about 64 KiB each) gathered into one pwritev of
// up to WRITE_BYTES while more are already buffered, one write under way while the next gathers; a chunk with nothing
// behind it is written at once (a slow client's bytes do not wait in memory for a megabyte). An awaited pwrite per chunk kept receipt and disk in
// lock step (a thread-pool round trip per 64 KiB); measured on this disk, 256 MiB with an fdatasync every 8 MiB took
// 350-1,430 ms in 64 KiB awaited writes and 211-373 ms in 1 MiB writes with one in flight.
import type { AppendSink } from '../storage/resumable-byte-store.js';

/** Bytes gathered before a write starts. */
export const WRITE_BYTES = 1024 * 1024;

export class AppendWrites {
  private gathered: Buffer[] = [];
  private gatheredBytes = 0;
  private underWay?: Promise<void>;
  /** Where the next write starts: every byte pushed before the gathered ones. */
  private next: number;
  /** End offset of the writes that completed: bytes the sink holds, in order, with no hole. */
  written: number;

  /**
   * onWritten sees each write's bytes once the sink took them, in order (the append's hash); afterWrite is awaited
   * after each write, before the next starts (a test hook: no other write is under way while it runs).
   */
  constructor(
    private readonly sink: AppendSink,
    start: number,
    private readonly onWritten?: (bytes: Buffer) => void,
    private readonly afterWrite?: (end: number) => Promise<void> | void,
  ) {
    this.next = start;
    this.written = start;
  }

  /**
   * Takes a chunk; `more`: further bytes are buffered already. Resolves at once, or once the write before is done
   * when a new one starts (backpressure).
   */
  async push(chunk: Buffer, more: boolean): Promise<void> {
    this.gathered.push(chunk);
    this.gatheredBytes += chunk.length;
    if (this.gatheredBytes >= WRITE_BYTES || !more) await this.startWrite();
  }

  /** Every byte pushed written (or the first write error). */
  async drain(): Promise<void> {
    await this.startWrite();
    await this.settleWrite();
  }

  /**
   * After an error: the write under way settles and what is gathered is dropped, never written (the lease may be
   * lost; the client resumes from the recorded offset). `written` then says what the sink holds.
   */
  async abandon(): Promise<void> {
    this.gathered = [];
    this.gatheredBytes = 0;
    await this.underWay?.catch(() => undefined);
  }

  /** Waits for the write under way (its error is thrown here) and runs afterWrite. */
  private async settleWrite(): Promise<void> {
    const write = this.underWay;
    if (!write) return;
    await write;
    this.underWay = undefined;
    await this.afterWrite?.(this.written);
  }

  /** Settles the write under way, then starts writing what is gathered. */
  private async startWrite(): Promise<void> {
    await this.settleWrite();
    if (this.gatheredBytes === 0) return;
    // The chunks as they came (one pwritev), not joined: no megabyte copy and allocation per write.
    const chunks = this.gathered;
    const length = this.gatheredBytes;
    const at = this.next;
    this.next += length;
    this.gathered = [];
    this.gatheredBytes = 0;
    const write = this.sink.write(chunks, at).then(() => {
      this.written = at + length;
      for (const chunk of chunks) this.onWritten?.(chunk);
    });
    // Met by the next startWrite or drain; until then it must not count as unhandled.
    write.catch(() => undefined);
    this.underWay = write;
  }
}
