-- Search (issue 13): the keys of a file that a text or tag search can look up exactly in one GIN index
-- (files_search_keys_idx, built by the next migration), so that the common words, prefixes and tags of the bench
-- are read as one intersection of posting lists instead of a walk, a bitmap per condition or a prefix that expands
-- to every file name starting with it (the parser keeps 'invoice-map_12.pdf' as a lexeme: 'invoice':* expanded to
-- 14,700 lexemes at 1,000,000 files).
-- - every prefix, 3 to 24 characters, of every run of letters and digits in the search document's lexemes (a word
--   'invoice' gives 'inv' .. 'invoice'): a query word, or a prefix, of plain letters is one key;
-- - '~t' and each tag (its first 200 characters: a lexeme holds at most 2,047 bytes);
-- - '~d' and the day of created_at (days since 1970, UTC), so a search for the newest matches can be asked for the
--   matches of the last few days alone.
-- A search (src/shared/records/file-search-keys.ts) asks only for keys every match must hold, and keeps its own
-- conditions, so the keys narrow the rows and never decide them. IMMUTABLE: it reads only its arguments. The
-- default cost (100): a higher one made the planner read a window's few rows with parallel workers.
CREATE FUNCTION files_search_keys(document tsvector, tags text[], created timestamptz) RETURNS tsvector AS $$
  SELECT array_to_tsvector(array_agg(DISTINCT key)) FROM (
    SELECT left(word, n) AS key
      FROM unnest(regexp_split_to_array(array_to_string(tsvector_to_array(coalesce(document, ''::tsvector)), ' '), '[^[:alnum:]]+')) AS word,
           generate_series(3, least(length(word), 24)) AS n
    UNION ALL SELECT '~t' || left(tag, 200) FROM unnest(tags) AS tag WHERE tag <> ''
    UNION ALL SELECT '~d' || floor(extract(epoch FROM created) / 86400)::bigint) keys
   WHERE key IS NOT NULL
$$ LANGUAGE sql IMMUTABLE PARALLEL SAFE;
