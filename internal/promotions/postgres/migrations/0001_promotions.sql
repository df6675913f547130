-- The Promotions service's schema on PostgreSQL: the same tables, columns
-- and rules as on SQLite after its migrations (internal/promotions/sqlite/
-- migrations, 0001 and 0002), so that the data moves between them as it
-- is. Times are Unix milliseconds of the service's clock, as there.

-- When the service first started on this database: the campaign's start
-- when no setting gives one. One row, written once, by whichever replica
-- starts first.
CREATE TABLE service_start (
    id         integer PRIMARY KEY CHECK (id = 1),
    started_at bigint  NOT NULL
);

-- The claims: each checkout's claim of its customer's one use of the
-- promotion, named by the customer and the checkout's idempotency key.
-- state is 'held' until it is confirmed (the order was placed: the use is
-- spent, and the row is kept for good), released (the order was not) or
-- expired (held past expires_at). The discount is the one the claim was
-- given: amount in minor units, its currency, the book made free (0 for
-- a discount that makes none free) and the promotion's code. updated_at
-- is the last change of state. A released or expired claim is deleted a
-- week after its last change.
CREATE TABLE claims (
    customer_id       integer NOT NULL CHECK (customer_id >= 1),
    idempotency_key   text    NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 64),
    state             text    NOT NULL CHECK (state IN ('held', 'confirmed', 'released', 'expired')),
    discount_units    bigint  NOT NULL CHECK (discount_units > 0),
    discount_currency text    NOT NULL CHECK (length(discount_currency) = 3),
    discount_book_id  integer NOT NULL CHECK (discount_book_id >= 0),
    discount_code     text    NOT NULL CHECK (length(discount_code) BETWEEN 1 AND 64),
    created_at        bigint  NOT NULL,
    expires_at        bigint  NOT NULL,
    updated_at        bigint  NOT NULL,
    PRIMARY KEY (customer_id, idempotency_key)
);

-- Once per customer: at most one claim of a customer is held or
-- confirmed, whatever the checkouts of every replica try at once. Of two
-- transactions that each found none and wrote one, the second is refused
-- (a unique violation), and, run again, finds the first's.
CREATE UNIQUE INDEX claims_one_use_per_customer ON claims (customer_id) WHERE state IN ('held', 'confirmed');

-- The sweeper's two queries: the held claims past their expiry, and the
-- ended ones past their keeping.
CREATE INDEX claims_held_by_expiry ON claims (expires_at) WHERE state = 'held';
CREATE INDEX claims_ended_by_update ON claims (updated_at) WHERE state IN ('released', 'expired');
