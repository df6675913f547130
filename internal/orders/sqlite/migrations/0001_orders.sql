-- The orders: one row each, never deleted. Amounts are integers in the
-- minor units of the order's one currency (cents for EUR). created and
-- updated are Unix times in milliseconds. idempotency_key is the key of
-- the CreateOrder call that recorded the order, and fingerprint the
-- SHA-256 of what it recorded (orders.Fingerprint): a call with the key
-- finds the order, and tells a retry (the same fingerprint) from a key
-- used for another order. Both live as long as the order, so that a
-- retry, however late, records nothing twice; and the table is bounded by
-- the orders themselves. The CHECKs repeat the rules that the service
-- checks before it writes (orders.Checked), as a last guard.
CREATE TABLE orders (
    id               TEXT    PRIMARY KEY CHECK (length(id) = 28 AND substr(id, 1, 2) = 'o_'),
    idempotency_key  TEXT    NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    fingerprint      BLOB    NOT NULL CHECK (length(fingerprint) = 32),
    customer_id      INTEGER NOT NULL CHECK (customer_id BETWEEN 1 AND 2147483647),
    currency         TEXT    NOT NULL CHECK (length(currency) = 3),
    subtotal         INTEGER NOT NULL CHECK (subtotal >= 0),
    discount         INTEGER NOT NULL CHECK (discount BETWEEN 0 AND subtotal),
    total            INTEGER NOT NULL CHECK (total = subtotal - discount),
    payment_id       TEXT    NOT NULL,
    ship_name        TEXT    NOT NULL,
    ship_line1       TEXT    NOT NULL,
    ship_line2       TEXT    NOT NULL,
    ship_city        TEXT    NOT NULL,
    ship_postal_code TEXT    NOT NULL,
    ship_country     TEXT    NOT NULL CHECK (length(ship_country) = 2),
    state            TEXT    NOT NULL CHECK (state IN ('placed', 'cancelled')),
    created          INTEGER NOT NULL,
    updated          INTEGER NOT NULL CHECK (updated >= created)
) STRICT;

-- A customer's orders, newest first (ListOrders), and everyone's
-- (ListAllOrders).
CREATE INDEX orders_by_customer ON orders (customer_id, created DESC, id DESC);
CREATE INDEX orders_by_created ON orders (created DESC, id DESC);

-- The lines of the orders, n from 1 in the order given: each book once,
-- with its title and price when it was bought.
CREATE TABLE order_lines (
    order_id   TEXT    NOT NULL REFERENCES orders (id),
    n          INTEGER NOT NULL CHECK (n BETWEEN 1 AND 50),
    book_id    INTEGER NOT NULL CHECK (book_id BETWEEN 1 AND 2147483647),
    title      TEXT    NOT NULL,
    unit_price INTEGER NOT NULL CHECK (unit_price >= 0),
    quantity   INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 10),
    total      INTEGER NOT NULL CHECK (total = unit_price * quantity),
    PRIMARY KEY (order_id, n),
    UNIQUE (order_id, book_id)
) STRICT, WITHOUT ROWID;

-- The codes of the promotions applied to the orders, n from 1 in the
-- order they were applied; indexed by code, for the reports of a
-- promotion's orders.
CREATE TABLE order_promotions (
    order_id TEXT    NOT NULL REFERENCES orders (id),
    n        INTEGER NOT NULL CHECK (n BETWEEN 1 AND 10),
    code     TEXT    NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
    PRIMARY KEY (order_id, n),
    UNIQUE (order_id, code)
) STRICT, WITHOUT ROWID;

CREATE INDEX order_promotions_by_code ON order_promotions (code);
