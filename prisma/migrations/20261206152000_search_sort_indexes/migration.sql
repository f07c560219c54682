-- Search (issue 13): contentType with the default sort (newest first) walks an index in the sort's order that holds
-- only files of that type, instead of the created_at index testing each file's type on its heap row (which, when
-- the newest files are of other types, read every one of them).
-- An exact type: (content_type, created_at, id), which schema.prisma states.
CREATE INDEX "files_content_type_created_at_id_idx" ON "files"("content_type" DESC, "created_at" DESC, "id" DESC);
-- "type/*": the same by the type alone. An expression index, which schema.prisma cannot state (prisma migrate diff
-- ignores it); file-search-query.ts writes the same expression.
CREATE INDEX "files_content_major_created_at_id_idx" ON "files"((split_part("content_type", '/', 1)) DESC, "created_at" DESC, "id" DESC);
