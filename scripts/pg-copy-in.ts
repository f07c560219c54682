// COPY ... FROM STDIN on a pg client, without a dependency: a query object the driver submits as its own (the
// "submittable" interface pg-copy-streams also uses), sending the rows as CopyData messages when the server asks.
import type pg from 'pg';

/** The part of pg's connection a COPY uses (pg/lib/connection.js). */
interface CopyConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
  sendCopyFail(message: string): void;
}

// Large enough to keep the messages few; small enough that a chunk never holds much memory.
const CHUNK_BYTES = 1 << 20;

class CopyIn {
  private settled = false;
  rowCount = 0;
  constructor(
    readonly text: string,
    private readonly lines: Iterable<string>,
    private readonly done: (err: Error | undefined, rowCount: number) => void,
  ) {}

  private settle(err: Error | undefined): void {
    if (this.settled) return;
    this.settled = true;
    this.done(err, this.rowCount);
  }

  submit(connection: CopyConnection): void {
    connection.query(this.text);
  }

  handleCopyInResponse(connection: CopyConnection): void {
    try {
      let chunk: string[] = [];
      let bytes = 0;
      for (const line of this.lines) {
        chunk.push(line);
        bytes += line.length;
        if (bytes >= CHUNK_BYTES) {
          connection.sendCopyFromChunk(Buffer.from(chunk.join(''), 'utf8'));
          chunk = [];
          bytes = 0;
        }
      }
      if (chunk.length > 0) connection.sendCopyFromChunk(Buffer.from(chunk.join(''), 'utf8'));
      connection.endCopyFrom();
    } catch (err) {
      // The server then answers with an error, which ends the statement.
      connection.sendCopyFail((err as Error).message);
    }
  }

  handleCommandComplete(message: { text?: string }): void {
    this.rowCount = Number(/COPY (\d+)/.exec(message.text ?? '')?.[1] ?? 0);
  }

  // pg drops its active query when the server reports an error (client.js _handleErrorMessage), so the
  // ReadyForQuery that follows never reaches this one: the COPY ends here, and the client takes its next query after.
  handleError(err: Error): void {
    this.settle(err);
  }

  handleReadyForQuery(): void {
    this.settle(undefined);
  }

  // Not sent for COPY FROM; present because the driver may call them on any active query.
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}
}

/**
 * Runs `COPY <target> FROM STDIN` (text format) on client with these lines (each ending in a newline, columns
 * separated by tabs, NULL as \N); resolves with the rows copied.
 */
export function copyIn(client: pg.PoolClient | pg.Client, target: string, lines: Iterable<string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const query = new CopyIn(`COPY ${target} FROM STDIN`, lines, (err, rows) => (err ? reject(err) : resolve(rows)));
    (client as unknown as { query(q: unknown): void }).query(query);
  });
}
