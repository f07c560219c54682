// The answer to a request recorded as an 'update' job (a metadata patch, a retention or legal-hold change): the new
// FileMetadata once the worker applied it (up to 10 s), its error when it failed, else 202 with the job to poll.
import type { Response } from 'express';
import { getFileMetadata } from '../../shared/domain/file-queries.js';
import { waitForJobs } from '../../shared/domain/job-queries.js';
import { toJobView } from '../../shared/domain/job-view.js';
import { AppError, ERROR_STATUS, type ErrorCode } from '../../shared/errors.js';
import type { ApiContext } from '../context.js';

const UPDATE_WAIT_MS = 10_000;

export async function answerUpdate(ctx: ApiContext, res: Response, job: Parameters<typeof toJobView>[0]): Promise<void> {
  const abort = new AbortController();
  res.once('close', () => abort.abort());
  const [done] = await waitForJobs(ctx.db, [job.id], UPDATE_WAIT_MS, abort.signal);
  if (done?.state === 'committed') {
    const meta = await getFileMetadata(ctx.db, job.fileId);
    res.setHeader('ETag', `"${meta.revision}"`);
    res.json(meta);
    return;
  }
  if (done?.state === 'failed') {
    const code = (done.errorCode && done.errorCode in ERROR_STATUS ? done.errorCode : 'internal') as ErrorCode;
    throw new AppError(code, done.errorMessage ?? 'the update failed');
  }
  res.status(202).setHeader('Location', `/api/v1/jobs/${job.id}`).json(toJobView(done ?? job));
}
