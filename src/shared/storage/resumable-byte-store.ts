// The interface of a resumable upload's bytes while it is incomplete (SPEC §9): local staging appends to one file
// (domain/resumable-bytes.ts), S3 staging keeps one object per durable step (s3-resumable-bytes.ts).

/** One append's writer (the caller holds the upload's lease). */
export interface AppendSink {
  /**
   * Writes the chunks, in order, at position (the previous write's end; the first at the durable offset). A list,
   * not one joined buffer: joining a megabyte per write gave the API's garbage collector a full collection every
   * few dozen megabytes once its heap had grown (bench/tools/cli-large-trace.ts).
   */
  write(chunks: Buffer[], position: number): Promise<void>;
  /**
   * Makes every byte written before the call durable; the caller records the offset only after it resolves. Writes
   * may go on while it runs (they are the next sync's). Once a sync failed, every later one fails: the bytes it
   * held may be gone, and no offset past them may be recorded.
   */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface ResumableByteStore {
  /** Whatever must exist before the upload's row promises it (durable). */
  create(uploadId: string): Promise<void>;
  /**
   * The bytes a resume may trust: at most the recorded offset; what lies past it was written but never recorded
   * and is dropped here. -1: the bytes are gone.
   */
  reconcile(uploadId: string, recordedOffset: number): Promise<number>;
  /** A writer appending from start (the durable offset reconcile returned). */
  openAppend(uploadId: string, start: number): Promise<AppendSink>;
  /**
   * The complete upload's first `size` bytes as a new file in STAGING_PATH under a staged name of this writer:
   * submitUpload publishes it and its ingest job owns it; the upload's own bytes stay until remove().
   */
  toStaging(uploadId: string, size: number, writerId?: string): Promise<string>;
  remove(uploadId: string): Promise<void>;
}
