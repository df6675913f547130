-- The idempotency keys of the imports (ImportBooks' idempotency_key): a
-- row for each import written with a key, in the transaction that wrote
-- it, so that a client that never got the answer sends the import again
-- and gets the first one's, nothing written twice. fingerprint is the
-- SHA-256 of the import's items (see importFingerprint), to tell a retry
-- from a key reused for other books; result is the answer as JSON:
-- {"imported": N, "rejected": [{"index", "line", "reason"}...]}.
-- created_at is the Unix time in milliseconds: an import deletes the keys
-- older than 7 days (bookshop.ImportKeyTTL), which bounds the table to the
-- imports of a week.
CREATE TABLE import_keys (
    key         TEXT    PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 64),
    fingerprint BLOB    NOT NULL CHECK (length(fingerprint) = 32),
    result      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX import_keys_by_created_at ON import_keys (created_at);
