-- Search keys with word pairs (issue 13, the phrase at 10,000,000 files: both words of "annual report" are in 5.6 %
-- of the files and adjacent in 0.03 %, so a walk passed about 120,000 files for a page). The keys of
-- 20261206160000_search_keys, plus '~p<a>_<b>' for every two lexemes of plain letters (1 to 24 each) at adjacent
-- positions of the search document: a file matching the phrase 'a' <-> 'b' holds a at some position p and b at p + 1,
-- so that key; a search for a phrase asks for its pairs (src/shared/records/file-search-keys.ts). Pairs across the
-- document's parts (the file name's last word and the first tag) are keys too, as the phrase operator matches them.
-- A new function under a new name, indexed CONCURRENTLY by the next migration; the one after drops the old index and
-- the last renames both (an IMMUTABLE function's body must not change under an index already built from it).
-- The document's words are unnested once (a CTE), and a lexeme of letters is told by a negated class: the pairs then
-- cost about 20 us more per file in SQL (65 against 45 us; with a regex per lexeme and two unnests, 100).
CREATE FUNCTION files_search_keys_next(document tsvector, tags text[], created timestamptz) RETURNS tsvector AS $$
  WITH words AS MATERIALIZED (
    SELECT lexeme, unnest(positions) AS at FROM unnest(document) WHERE length(lexeme) <= 24 AND lexeme !~ '[^a-z]')
  SELECT array_to_tsvector(array_agg(DISTINCT key)) FROM (
    SELECT left(word, n) AS key
      FROM unnest(regexp_split_to_array(array_to_string(tsvector_to_array(coalesce(document, ''::tsvector)), ' '), '[^[:alnum:]]+')) AS word,
           generate_series(3, least(length(word), 24)) AS n
    UNION ALL SELECT '~p' || a.lexeme || '_' || b.lexeme FROM words a JOIN words b ON b.at = a.at + 1
    UNION ALL SELECT '~t' || left(tag, 200) FROM unnest(tags) AS tag WHERE tag <> ''
    UNION ALL SELECT '~d' || floor(extract(epoch FROM created) / 86400)::bigint) keys
   WHERE key IS NOT NULL
$$ LANGUAGE sql IMMUTABLE PARALLEL SAFE;
