// Large files go through the element's resumable endpoint (SPEC §9): the upload URL is recorded (a `sending` line)
// before the first byte goes, so a rerun continues it; a dropped connection is resumed from the element's durable
// offset within the run. A file not hashed yet is sent while the hash pool hashes it (one read of the disk each, at
// once, instead of a whole hash before the first byte): the digest goes as the append's Repr-Digest trailer, and once
// it is known the run decides, as for any file, whether the content is sent at all; if not, the append is cut and
// the upload cancelled.
import { isResumableUnsupported, LocalFileChangedError, resumableUnsupportedError, type Job } from '../client/index.js';
import type { FileDigest } from './hashing.js';
import { idempotencyKey, type HashedFile } from './ingest-plan.js';
import { failedLine } from './failed-line.js';
import type { UploadSender } from './ingest-sender.js';
import type { ReportLine } from './report.js';
import type { LocalFile } from './walk.js';

/** What a file hashed while it was sent becomes: sent on, or another line (present, or its leader's). */
export type SendDecision = { send: true } | { line: Promise<ReportLine> };

/** The run decided against sending this file: the append is cut (its line comes from the decision). */
class NotSent extends Error {
  constructor(readonly line: Promise<ReportLine>) {
    super('not sent: decided once its digest was known');
  }
}

/** Sends a hashed large file as a resumable upload (its sha256 declared at creation); its final line. */
export async function sendResumable(sender: UploadSender, f: HashedFile): Promise<ReportLine> {
  const { client, fields, summary, report } = sender.deps;
  if (sender.resumableUnsupported) return (await sender.send([f], idempotencyKey(f)))[0]!;
  if (sender.fatal) {
    sender.sent([f], false);
    return failedLine(f, f.sha256, sender.fatal);
  }
  let job: Job | undefined;
  try {
    job = await sender.uploads.run(async () => {
      if (sender.fatal) throw sender.fatal;
      // Learnt while this file waited for its turn: not asked again (uploads already in flight may each ask once).
      if (sender.resumableUnsupported) throw resumableUnsupportedError();
      const answer = await client
        .uploadResumable({ path: f.path, size: f.hashedSize }, { ...fields, sha256: f.sha256 }, {
          uploadUrl: sender.deps.uploadUrls.get(f.path),
          onUploadUrl: (uploadUrl) => report?.append({ path: f.path, size: f.size, mtimeMs: f.mtimeMs, sha256: f.sha256, state: 'sending', uploadUrl }),
        })
        .catch((err: unknown) => {
          // Noted before the limiter lets the next file in, so that one does not ask again.
          if (isResumableUnsupported(err)) sender.resumableUnsupported = true;
          throw err;
        });
      summary.uploadedBytes += answer.sentBytes;
      return answer.job;
    });
  } catch (err) {
    // No byte was sent (the creation or the first HEAD was refused): the ordinary upload, counted there.
    if (isResumableUnsupported(err)) return (await sender.send([f], idempotencyKey(f)))[0]!;
    sender.noteError(err);
    sender.sent([f], false);
    return failedLine(f, f.sha256, err);
  }
  sender.sent([f], true);
  return sender.follow(f, job);
}

/**
 * Sends a large file while `digest` (the hash pool's) is computed; `decide` is asked once the digest is known, with
 * the append still open. Its final line. An element without resumable uploads gets it, once hashed and decided, as
 * an ordinary upload.
 */
export async function sendWhileHashing(
  sender: UploadSender,
  f: LocalFile,
  digest: Promise<FileDigest>,
  decide: (hashed: HashedFile) => Promise<SendDecision>,
): Promise<ReportLine> {
  const { client, fields, summary, report } = sender.deps;
  sender.handedOver();
  const abort = new AbortController();
  let hashed: HashedFile | undefined;
  // The append's trailer waits for this: the digest, then the decision; anything but "send" cuts the append.
  const decided = digest.then(async (d) => {
    // The walk saw another size: the file changes under us; what the pool read is not what is being sent.
    if (d.size !== f.size) throw new LocalFileChangedError(f.path, f.size, d.size);
    hashed = { ...f, sha256: d.sha256, hashedSize: d.size };
    const decision = await decide(hashed);
    if ('line' in decision) throw new NotSent(decision.line);
    return d.sha256;
  });
  decided.catch(() => abort.abort());
  let job: Job | undefined;
  let uploadUrl: string | undefined;
  try {
    job = await sender.uploads.run(async () => {
      if (sender.fatal) throw sender.fatal;
      if (sender.resumableUnsupported) throw resumableUnsupportedError();
      const answer = await client
        .uploadResumable({ path: f.path, size: f.size }, fields, {
          uploadUrl: sender.deps.uploadUrls.get(f.path),
          onUploadUrl: (url) => {
            uploadUrl = url;
            return report?.append({ path: f.path, size: f.size, mtimeMs: f.mtimeMs, sha256: null, state: 'sending', uploadUrl: url });
          },
          digest: decided,
          signal: abort.signal,
        })
        .catch((err: unknown) => {
          if (isResumableUnsupported(err)) sender.resumableUnsupported = true;
          throw err;
        });
      summary.uploadedBytes += answer.sentBytes;
      return answer.job;
    });
    // An upload an earlier run completed answers at once, before the digest: the decision still stands.
    await decided;
  } catch (err) {
    const reason = await decided.then(() => err, (stopped: unknown) => stopped);
    if (reason instanceof NotSent) {
      sender.sent([f], false);
      if (uploadUrl && !job) await client.cancelResumable(uploadUrl).catch(() => undefined);
      return reason.line;
    }
    // The element has no resumable uploads and no byte went: the ordinary upload of the hashed file.
    if (isResumableUnsupported(reason) && hashed) return (await sender.send([hashed], idempotencyKey(hashed)))[0]!;
    sender.noteError(reason);
    sender.sent([f], false);
    return failedLine(f, hashed?.sha256 ?? null, reason, job?.id ?? null);
  }
  sender.sent([f], true);
  return sender.follow(hashed!, job);
}
