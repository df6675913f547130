-- The catalog's versions: each import that writes books is the next
-- version of the catalog, and its books carry it. Books from before
-- versions carry 0. A replica of the Catalog on a shared database
-- (package postgres) follows the others' imports by version; the SQLite
-- store keeps the same column, so that a catalog moves between the two
-- as it is.
ALTER TABLE books ADD COLUMN version INTEGER NOT NULL DEFAULT 0 CHECK (version >= 0);

CREATE INDEX books_by_version ON books (version, id);
