-- The Payments service's schema on PostgreSQL: the same tables, columns
-- and rules as on SQLite (internal/payments/sqlite/migrations), so that
-- the data moves between them as it is. Times are Unix milliseconds.

-- The charges: one row for each idempotency key that took money or was
-- declined. No card number, no CVC, no cardholder's name: of the card,
-- only its brand and the last four digits of its number, which the CHECKs
-- hold to four digits and a known brand, a last guard against a bug that
-- would pass more. A declined charge is kept too, so that a retry with its
-- key is declined again rather than charged. Rows are never deleted: they
-- are the ledger, and a key is never forgotten. amount_units is in the
-- currency's minor units.
CREATE TABLE charges (
    id              text   PRIMARY KEY CHECK (length(id) = 25 AND starts_with(id, 'ch_')),
    idempotency_key text   NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 64),
    amount_units    bigint NOT NULL CHECK (amount_units BETWEEN 1 AND 99999999),
    currency        text   NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    brand           text   NOT NULL CHECK (brand IN ('visa', 'mastercard', 'amex')),
    last4           text   NOT NULL CHECK (last4 ~ '^[0-9]{4}$'),
    state           text   NOT NULL CHECK (state IN ('approved', 'declined', 'refunded')),
    decline_reason  text   NOT NULL DEFAULT '',
    created         bigint NOT NULL,
    refunded        bigint,
    CHECK ((state = 'declined') = (decline_reason <> '')),
    CHECK ((state = 'refunded') = (refunded IS NOT NULL))
);

-- The idempotency keys cancelled before they made a charge: by a refund
-- that named a key which had made none (a caller making sure that no money
-- stays taken after it lost track of a charge). A charge with one of them
-- is refused. A key is in one of the two tables at most: the changes of a
-- key take a lock of the key's own (see package postgres) before they look
-- in both.
CREATE TABLE cancelled_keys (
    idempotency_key text   PRIMARY KEY CHECK (length(idempotency_key) BETWEEN 1 AND 64),
    cancelled       bigint NOT NULL
);
