-- The charges: one row for each idempotency key that took money or was
-- declined. No card number, no CVC, no cardholder's name: of the card,
-- only its brand and the last four digits of its number. A declined charge
-- is kept too, so that a retry with its key is declined again rather than
-- charged. Rows are never deleted: they are the ledger, and a key is never
-- forgotten. amount_units is in the currency's minor units. Times are Unix
-- milliseconds.
CREATE TABLE charges (
    id              TEXT    PRIMARY KEY CHECK (length(id) = 25 AND id GLOB 'ch_*'),
    idempotency_key TEXT    NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 64),
    amount_units    INTEGER NOT NULL CHECK (amount_units BETWEEN 1 AND 99999999),
    currency        TEXT    NOT NULL CHECK (length(currency) = 3 AND currency NOT GLOB '*[^A-Z]*'),
    brand           TEXT    NOT NULL CHECK (brand IN ('visa', 'mastercard', 'amex')),
    last4           TEXT    NOT NULL CHECK (length(last4) = 4 AND last4 NOT GLOB '*[^0-9]*'),
    state           TEXT    NOT NULL CHECK (state IN ('approved', 'declined', 'refunded')),
    decline_reason  TEXT    NOT NULL DEFAULT '',
    created         INTEGER NOT NULL,
    refunded        INTEGER,
    CHECK ((state = 'declined') = (decline_reason <> '')),
    CHECK ((state = 'refunded') = (refunded IS NOT NULL))
) STRICT, WITHOUT ROWID;

-- The idempotency keys cancelled before they made a charge: by a refund
-- that named a key which had made none (a caller making sure that no money
-- stays taken after it lost track of a charge). A charge with one of them
-- is refused. A key is in one of the two tables at most.
CREATE TABLE cancelled_keys (
    idempotency_key TEXT    PRIMARY KEY CHECK (length(idempotency_key) BETWEEN 1 AND 64),
    cancelled       INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
