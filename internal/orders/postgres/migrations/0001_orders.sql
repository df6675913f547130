-- The Orders service's schema on PostgreSQL: the same tables, columns and
-- rules as on SQLite (internal/orders/sqlite/migrations), so that the
-- data moves between them as it is. Amounts are integers in the minor
-- units of the order's one currency; created and updated are Unix times
-- in milliseconds. The order ids compare byte by byte (COLLATE "C"), as
-- SQLite's do, so that the listings, newest first and then by id, come in
-- the same order from both, whatever the server's collation.

-- The orders: one row each, never deleted. idempotency_key is the key of
-- the CreateOrder call that recorded the order, and fingerprint the
-- SHA-256 of what it recorded (orders.Fingerprint): a call with the key
-- finds the order, and tells a retry (the same fingerprint) from a key
-- used for another order. Both live as long as the order, so that a
-- retry, however late, records nothing twice. The CHECKs repeat the rules
-- that the service checks before it writes (orders.Checked), as a last
-- guard.
CREATE TABLE orders (
    id               text COLLATE "C" PRIMARY KEY CHECK (length(id) = 28 AND starts_with(id, 'o_')),
    idempotency_key  text    NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    fingerprint      bytea   NOT NULL CHECK (length(fingerprint) = 32),
    customer_id      integer NOT NULL CHECK (customer_id >= 1),
    currency         text    NOT NULL CHECK (length(currency) = 3),
    subtotal         bigint  NOT NULL CHECK (subtotal >= 0),
    discount         bigint  NOT NULL CHECK (discount BETWEEN 0 AND subtotal),
    total            bigint  NOT NULL CHECK (total = subtotal - discount),
    payment_id       text    NOT NULL,
    ship_name        text    NOT NULL,
    ship_line1       text    NOT NULL,
    ship_line2       text    NOT NULL,
    ship_city        text    NOT NULL,
    ship_postal_code text    NOT NULL,
    ship_country     text    NOT NULL CHECK (length(ship_country) = 2),
    state            text    NOT NULL CHECK (state IN ('placed', 'cancelled')),
    created          bigint  NOT NULL,
    updated          bigint  NOT NULL CHECK (updated >= created)
);

-- A customer's orders, newest first (ListOrders), and everyone's
-- (ListAllOrders).
CREATE INDEX orders_by_customer ON orders (customer_id, created DESC, id DESC);
CREATE INDEX orders_by_created ON orders (created DESC, id DESC);

-- The lines of the orders, n from 1 in the order given: each book once,
-- with its title and price when it was bought.
CREATE TABLE order_lines (
    order_id   text COLLATE "C" NOT NULL REFERENCES orders (id),
    n          integer NOT NULL CHECK (n BETWEEN 1 AND 50),
    book_id    integer NOT NULL CHECK (book_id >= 1),
    title      text    NOT NULL,
    unit_price bigint  NOT NULL CHECK (unit_price >= 0),
    quantity   integer NOT NULL CHECK (quantity BETWEEN 1 AND 10),
    total      bigint  NOT NULL CHECK (total = unit_price * quantity),
    PRIMARY KEY (order_id, n),
    UNIQUE (order_id, book_id)
);

-- The codes of the promotions applied to the orders, n from 1 in the
-- order they were applied; indexed by code, for the reports of a
-- promotion's orders.
CREATE TABLE order_promotions (
    order_id text COLLATE "C" NOT NULL REFERENCES orders (id),
    n        integer NOT NULL CHECK (n BETWEEN 1 AND 10),
    code     text    NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
    PRIMARY KEY (order_id, n),
    UNIQUE (order_id, code)
);

CREATE INDEX order_promotions_by_code ON order_promotions (code);
