-- The API hashes an upload's bytes while it stages them (issue 12) and records the digest with the job, so the
-- worker need not read a local staged file again to hash it. Null for jobs whose staging did not hash them.
ALTER TABLE "file_jobs" ADD COLUMN "staged_sha256" CHAR(64);
