-- The items of the import in progress, as they come (ImportBooks'
-- stream): an import writes them here in batches, inside its transaction,
-- so that it need not hold them in memory; once the last has come it
-- checks each one, in order, writes the valid ones to books, and deletes
-- them all before it commits. An import that breaks off rolls them back
-- with the rest: outside an import the table is empty. The columns hold
-- the items as received, unchecked: category is bookshop.Category's
-- number; reject, when not NULL, is why the caller refused the item
-- before the store saw it (a price in another currency than the shop's).
CREATE TABLE import_items (
    idx      INTEGER PRIMARY KEY,
    line     INTEGER NOT NULL,
    id       INTEGER NOT NULL,
    category INTEGER NOT NULL,
    title    TEXT    NOT NULL,
    author   TEXT    NOT NULL,
    year     INTEGER NOT NULL,
    price    INTEGER NOT NULL,
    currency TEXT    NOT NULL,
    reject   TEXT
) STRICT;
