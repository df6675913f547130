-- The catalog, as package sqlite keeps it (its migrations 0001 to 0006),
-- table for table and column for column, so that a catalog moves between
-- the two as it is.

-- The books. match_key is the title and author with case folded
-- (catalogdb.MatchKey): no two books may share it. A price is an amount
-- in the integer minor units of a currency (1299 and 'EUR' are 12.99
-- euros); 0 and '' is no price, as books from before prices have.
-- version is the catalog's version that the book came in: each import
-- that writes books is the next one, and replicas follow each other's
-- imports by it (package postgres).
CREATE TABLE books (
    id        integer NOT NULL PRIMARY KEY CHECK (id >= 1),
    category  text    NOT NULL CHECK (category IN ('mystery', 'science_fiction', 'self_help')),
    title     text    NOT NULL CHECK (title <> ''),
    author    text    NOT NULL CHECK (author <> ''),
    year      integer NOT NULL CHECK (year BETWEEN 1 AND 9999),
    match_key text    NOT NULL UNIQUE,
    price     bigint  NOT NULL DEFAULT 0 CHECK (price >= 0),
    currency  text    NOT NULL DEFAULT '' CHECK (
        (price = 0 AND currency = '') OR (price > 0 AND length(currency) = 3)
    ),
    version   bigint  NOT NULL DEFAULT 0 CHECK (version >= 0)
);

CREATE INDEX books_by_category ON books (category, id);
CREATE INDEX books_by_version ON books (version, id);

-- The idempotency keys of the imports: a row for each import written
-- with a key, in the transaction that wrote it. fingerprint is the
-- SHA-256 of the import's items (catalogdb.Fingerprint); result is the
-- answer as JSON; created_at is the Unix time in milliseconds: an import
-- deletes the keys older than 7 days.
CREATE TABLE import_keys (
    key         text   NOT NULL PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 64),
    fingerprint bytea  NOT NULL CHECK (length(fingerprint) = 32),
    result      text   NOT NULL,
    created_at  bigint NOT NULL
);

CREATE INDEX import_keys_by_created_at ON import_keys (created_at);

-- The items of the import in progress, as they come: an import writes
-- them here in batches, inside its transaction, and empties the table
-- before it commits; one import at a time writes here, whichever replica
-- (it holds the import lock). Outside an import the table is empty.
CREATE TABLE import_items (
    idx      bigint  NOT NULL PRIMARY KEY,
    line     bigint  NOT NULL,
    id       bigint  NOT NULL,
    category bigint  NOT NULL,
    title    text    NOT NULL,
    author   text    NOT NULL,
    year     bigint  NOT NULL,
    price    bigint  NOT NULL,
    currency text    NOT NULL,
    reject   text
);
