-- The order in which checkouts placed their orders (see saga.Mark).
--
-- placed_seq numbers the checkouts that reached done, 1, 2, 3 and on, in
-- the order they did: the row's Save to done takes the highest number so
-- far, plus one. A checkout reads the highest (PlacedMark) before it reads
-- its cart, and Begin refuses it when another checkout of the same cart,
-- under another key of the customer, has a higher one: that checkout
-- took its books out of the cart after the cart was read. The sweeper
-- keeps the row with the highest number, so that the numbers never go
-- back. NULL for the checkouts that have not placed an order.
--
-- The checkouts done before this migration are numbered in the order of
-- their rows, all below any number given after it.
ALTER TABLE checkouts ADD COLUMN placed_seq INTEGER;

UPDATE checkouts SET placed_seq = rowid WHERE state = 'done';

CREATE INDEX checkouts_placed ON checkouts (placed_seq) WHERE placed_seq IS NOT NULL;
