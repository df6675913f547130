-- The idempotency keys of the additions to the carts (AddItem's
-- idempotency_key): a row for each addition that succeeded with a key,
-- written in the transaction that added, so that a retry with the key
-- finds it and adds nothing. book_id and quantity are what that addition
-- added, to tell a retry from a key reused for another addition.
-- created_at is the Unix time, in seconds, of the addition: a key counts
-- for 24 hours, and the sweeper deletes the rows older than that, which
-- bounds the table to the keyed additions of about a day.
--
-- No foreign key to carts: a key outlives its cart's row (the cart
-- emptied, or merged into another), so that a retry after that still
-- adds nothing.
CREATE TABLE cart_add_keys (
    cart_id    TEXT    NOT NULL CHECK (length(cart_id) BETWEEN 1 AND 64),
    key        TEXT    NOT NULL CHECK (length(key) BETWEEN 1 AND 64),
    book_id    INTEGER NOT NULL CHECK (book_id BETWEEN 1 AND 2147483647),
    quantity   INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 10),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (cart_id, key)
) STRICT, WITHOUT ROWID;

CREATE INDEX cart_add_keys_by_created_at ON cart_add_keys (created_at);
