-- When the service first started on this database: the campaign's start
-- when no setting gives one. One row, written once.
CREATE TABLE service_start (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    started_at INTEGER NOT NULL
) STRICT;

-- The claims: each checkout's claim of its customer's one use of the
-- promotion, named by the customer and the checkout's idempotency key.
-- state is 'held' until it is confirmed (the order was placed: the use is
-- spent, and the row is kept for good), released (the order was not) or
-- expired (held past expires_at). The discount is the one the claim was
-- given: amount in minor units, its currency, the book made free and the
-- promotion's code. The times are the service's clock's, Unix
-- milliseconds; updated_at is the last change of state. A released or
-- expired claim is deleted a week after its last change.
CREATE TABLE claims (
    customer_id       INTEGER NOT NULL CHECK (customer_id BETWEEN 1 AND 2147483647),
    idempotency_key   TEXT    NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 64),
    state             TEXT    NOT NULL CHECK (state IN ('held', 'confirmed', 'released', 'expired')),
    discount_units    INTEGER NOT NULL CHECK (discount_units > 0),
    discount_currency TEXT    NOT NULL CHECK (length(discount_currency) = 3),
    discount_book_id  INTEGER NOT NULL CHECK (discount_book_id BETWEEN 1 AND 2147483647),
    discount_code     TEXT    NOT NULL CHECK (length(discount_code) BETWEEN 1 AND 64),
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    PRIMARY KEY (customer_id, idempotency_key)
) STRICT, WITHOUT ROWID;

-- Once per customer: at most one claim of a customer is held or
-- confirmed, whatever the checkouts try at once. A claim held past its
-- expiry is recorded expired (in the transaction of the next claim of its
-- customer, or by the sweeper) before another may be held.
CREATE UNIQUE INDEX claims_one_use_per_customer ON claims (customer_id) WHERE state IN ('held', 'confirmed');

-- The sweeper's two queries: the held claims past their expiry, and the
-- ended ones past their keeping.
CREATE INDEX claims_held_by_expiry ON claims (expires_at) WHERE state = 'held';
CREATE INDEX claims_ended_by_update ON claims (updated_at) WHERE state IN ('released', 'expired');
