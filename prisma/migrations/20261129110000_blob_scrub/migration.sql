-- The integrity scrub marks a blob whose stored bytes no longer match its sha256 (or are gone); downloads refuse it.
ALTER TABLE "blobs" ADD COLUMN "corrupt_at" TIMESTAMPTZ(3),
ADD COLUMN "corrupt_reason" TEXT;
