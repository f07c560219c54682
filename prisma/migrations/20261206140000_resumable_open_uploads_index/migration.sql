-- Capacity readings sum the staged bytes of open resumable uploads (completed_at IS NULL) once a second.
CREATE INDEX "resumable_uploads_completed_at_idx" ON "resumable_uploads"("completed_at");
