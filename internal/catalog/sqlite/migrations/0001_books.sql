-- The catalog of books. match_key is the title and author with case
-- folded (catalog.MatchKey): no two books may share it.
CREATE TABLE books (
    id        INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 2147483647),
    category  TEXT    NOT NULL CHECK (category IN ('mystery', 'science_fiction', 'self_help')),
    title     TEXT    NOT NULL CHECK (title <> ''),
    author    TEXT    NOT NULL CHECK (author <> ''),
    year      INTEGER NOT NULL CHECK (year BETWEEN 1 AND 9999),
    match_key TEXT    NOT NULL UNIQUE
) STRICT;

CREATE INDEX books_by_category ON books (category, id);
