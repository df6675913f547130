-- match_key separates the folded title from the folded author with
-- U+001F, not U+0000, so that the key moves to PostgreSQL as it is (its
-- text cannot hold U+0000). Neither a title nor an author holds a control
-- character, so the keys tell the same books apart as before. The key is
-- cut as bytes: SQLite's text functions stop at U+0000.
UPDATE books SET match_key =
    CAST(substr(CAST(match_key AS BLOB), 1, instr(CAST(match_key AS BLOB), x'00') - 1) AS TEXT) || char(31) ||
    CAST(substr(CAST(match_key AS BLOB), instr(CAST(match_key AS BLOB), x'00') + 1) AS TEXT)
WHERE instr(CAST(match_key AS BLOB), x'00') > 0;
