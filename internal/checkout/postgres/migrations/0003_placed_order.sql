-- The column of package sqlite's log that numbers the checkouts that
-- placed their orders (its migration 0005), so that the two logs keep the
-- same columns and a log moves from SQLite here row for row
-- (bookshop migrate-data). This log keeps no numbers (see PlacedMark in
-- postgres.go): the rows moved keep theirs, and the others have none.
ALTER TABLE checkouts ADD COLUMN placed_seq bigint;
