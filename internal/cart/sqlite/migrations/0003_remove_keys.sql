-- The idempotency keys of the removals from the carts (RemoveLines'
-- idempotency_key): a row for each removal done, written in the
-- transaction that removed, so that a retry with the key finds it and
-- removes nothing. lines is what that removal took out, as text
-- ("BOOK:QUANTITY" for each line, joined by ","), to tell a retry from a
-- key reused for another removal. created_at is the Unix time, in
-- seconds, of the removal: a key counts for 24 hours, and the sweeper
-- deletes the rows older than that, which bounds the table to the
-- removals of about a day.
--
-- No foreign key to carts: a key outlives its cart's row (the cart
-- emptied by the removal itself), so that a retry after that still
-- removes nothing.
CREATE TABLE cart_remove_keys (
    cart_id    TEXT    NOT NULL CHECK (length(cart_id) BETWEEN 1 AND 64),
    key        TEXT    NOT NULL CHECK (length(key) BETWEEN 1 AND 64),
    lines      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (cart_id, key)
) STRICT, WITHOUT ROWID;

CREATE INDEX cart_remove_keys_by_created_at ON cart_remove_keys (created_at);
