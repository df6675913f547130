-- The carts. A cart has a row here while it holds at least one line; the
-- last line removed removes the row. updated_at is the Unix time, in
-- seconds, of the cart's last change: guests' carts idle for too long are
-- deleted by it.
CREATE TABLE carts (
    id         TEXT    PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX carts_by_updated_at ON carts (updated_at);

-- The lines of the carts: a book and how many copies, never a price (the
-- Catalog's current price is fetched each time a cart is shown). seq
-- orders a cart's lines by when each book was first added.
CREATE TABLE cart_lines (
    cart_id  TEXT    NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    book_id  INTEGER NOT NULL CHECK (book_id BETWEEN 1 AND 2147483647),
    quantity INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 10),
    seq      INTEGER NOT NULL,
    PRIMARY KEY (cart_id, book_id)
) STRICT, WITHOUT ROWID;
