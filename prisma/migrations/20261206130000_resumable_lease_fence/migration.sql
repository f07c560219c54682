-- The fencing token of a resumable upload's lease: offsets are recorded only by the current holder.
ALTER TABLE "resumable_uploads" ADD COLUMN "lease" UUID;
