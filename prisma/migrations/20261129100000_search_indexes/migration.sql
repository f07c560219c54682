-- Search and listing (SPEC §5): an index for every filter and every keyset sort of GET /api/v1/files[/search].
-- Kept to what schema.prisma can state, so `prisma migrate diff` still proves the two agree.

-- fileName filters by case-insensitive substring (ILIKE '%...%'): a trigram GIN index serves it. pg_trgm ships with
-- PostgreSQL (contrib) and is a trusted extension since 13, so the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX "files_file_name_idx" ON "files" USING GIN ("file_name" gin_trgm_ops);

-- contentType is exact ("image/png") or a type prefix ("image/*" -> content_type ^@ 'image/'). A B-tree serves a
-- prefix only under the C collation or with text_pattern_ops (which Prisma cannot round-trip on a B-tree);
-- SP-GiST text_ops serves =, ^@ and LIKE 'x%' under any collation.
DROP INDEX "files_content_type_idx";
CREATE INDEX "files_content_type_idx" ON "files" USING SPGIST ("content_type");

-- "My files, newest first" as a keyset: the id tie-breaker belongs in the index, as in files_created_at_id_idx.
DROP INDEX "files_owner_created_at_idx";
CREATE INDEX "files_owner_created_at_id_idx" ON "files"("owner", "created_at" DESC, "id" DESC);

-- Full text: the parser keeps "annual-report_2025.pdf" as one lexeme, so a search for "report" missed it. The
-- document now also holds the file name's words (split on anything not a letter or digit), still weight A.
-- One function builds the document for the trigger and for the backfill below.
CREATE FUNCTION files_search_document(file_name TEXT, tags TEXT[], description TEXT) RETURNS tsvector AS $$
  SELECT
    setweight(to_tsvector('simple', coalesce(file_name, '')), 'A') ||
    setweight(to_tsvector('simple', regexp_replace(coalesce(file_name, ''), '[^[:alnum:]]+', ' ', 'g')), 'A') ||
    setweight(to_tsvector('simple', array_to_string(coalesce(tags, '{}'), ' ')), 'B') ||
    setweight(to_tsvector('simple', coalesce(description, '')), 'C')
$$ LANGUAGE sql IMMUTABLE PARALLEL SAFE;

CREATE OR REPLACE FUNCTION files_search_vector_refresh() RETURNS trigger AS $$
BEGIN
  NEW.search_vector := files_search_document(NEW.file_name, NEW.tags, NEW.description);
  RETURN NEW;
END
$$ LANGUAGE plpgsql;

UPDATE "files" SET "search_vector" = files_search_document("file_name", "tags", "description");
