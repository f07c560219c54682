-- Retention and legal hold (SPEC §10): constant defaults, so adding the columns rewrites no row.
-- AlterTable
ALTER TABLE "files" ADD COLUMN     "expires_at" TIMESTAMPTZ(3),
ADD COLUMN     "legal_hold" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "retain_until" TIMESTAMPTZ(3),
ADD COLUMN     "retention_mode" TEXT,
ADD COLUMN     "retention_policy" TEXT NOT NULL DEFAULT 'permanent';

-- CreateIndex
CREATE INDEX "files_expires_at_id_idx" ON "files"("expires_at", "id");

