-- The Cart's schema on PostgreSQL: the same tables, columns and rules as
-- on SQLite (internal/cart/sqlite/migrations, its three migrations in
-- one), so that the data moves between them as it is. Times are Unix
-- seconds of the service's clock, as there.

-- The carts. A cart has a row here while it holds at least one line; the
-- last line removed removes the row. Every change of a cart locks its row
-- first (a new cart's row is inserted, and the second of two inserts at
-- once is refused and run again): so that the limits of a cart (10 copies
-- of a book, 50 books) hold whichever replica writes. updated_at is the
-- time of the cart's last change: guests' carts idle for too long are
-- deleted by it.
CREATE TABLE carts (
    id         text   PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    updated_at bigint NOT NULL
);

CREATE INDEX carts_by_updated_at ON carts (updated_at);

-- The lines of the carts: a book and how many copies, never a price (the
-- Catalog's current price is fetched each time a cart is shown). seq
-- orders a cart's lines by when each book was first added.
CREATE TABLE cart_lines (
    cart_id  text    NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    book_id  integer NOT NULL CHECK (book_id >= 1),
    quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 10),
    seq      bigint  NOT NULL,
    PRIMARY KEY (cart_id, book_id)
);

-- The idempotency keys of the additions to the carts (AddItem's
-- idempotency_key): a row for each addition that succeeded with a key,
-- written in the transaction that added, so that a retry with the key, on
-- any replica, finds it and adds nothing. book_id and quantity are what
-- that addition added, to tell a retry from a key reused for another
-- addition. A key counts for 24 hours from created_at; the sweeper
-- deletes the older rows. No foreign key to carts: a key outlives its
-- cart's row (the cart emptied, or merged into another).
CREATE TABLE cart_add_keys (
    cart_id    text    NOT NULL CHECK (length(cart_id) BETWEEN 1 AND 64),
    key        text    NOT NULL CHECK (length(key) BETWEEN 1 AND 64),
    book_id    integer NOT NULL CHECK (book_id >= 1),
    quantity   integer NOT NULL CHECK (quantity BETWEEN 1 AND 10),
    created_at bigint  NOT NULL,
    PRIMARY KEY (cart_id, key)
);

CREATE INDEX cart_add_keys_by_created_at ON cart_add_keys (created_at);

-- The idempotency keys of the removals from the carts (RemoveLines'
-- idempotency_key), as those of the additions: lines is what that
-- removal took out, as text ("BOOK:QUANTITY" for each line, joined by
-- ","), to tell a retry from a key reused for another removal.
CREATE TABLE cart_remove_keys (
    cart_id    text   NOT NULL CHECK (length(cart_id) BETWEEN 1 AND 64),
    key        text   NOT NULL CHECK (length(key) BETWEEN 1 AND 64),
    lines      text   NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (cart_id, key)
);

CREATE INDEX cart_remove_keys_by_created_at ON cart_remove_keys (created_at);
