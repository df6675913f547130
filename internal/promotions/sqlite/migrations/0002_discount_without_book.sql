-- A discount that makes no book free: discount_book_id 0. The shop's
-- first campaign, "buy two books, get the third free", always names the
-- book it makes a copy of free; a campaign of another shape (an amount
-- off the order) names none, and its claims are kept all the same (see
-- package promotions, "What a campaign changes").
--
-- SQLite cannot change a CHECK constraint: the table is made again, with
-- its rows, and its indexes.
CREATE TABLE claims_v2 (
    customer_id       INTEGER NOT NULL CHECK (customer_id BETWEEN 1 AND 2147483647),
    idempotency_key   TEXT    NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 64),
    state             TEXT    NOT NULL CHECK (state IN ('held', 'confirmed', 'released', 'expired')),
    discount_units    INTEGER NOT NULL CHECK (discount_units > 0),
    discount_currency TEXT    NOT NULL CHECK (length(discount_currency) = 3),
    discount_book_id  INTEGER NOT NULL CHECK (discount_book_id BETWEEN 0 AND 2147483647),
    discount_code     TEXT    NOT NULL CHECK (length(discount_code) BETWEEN 1 AND 64),
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    PRIMARY KEY (customer_id, idempotency_key)
) STRICT, WITHOUT ROWID;

INSERT INTO claims_v2 SELECT customer_id, idempotency_key, state, discount_units, discount_currency,
    discount_book_id, discount_code, created_at, expires_at, updated_at FROM claims;

DROP TABLE claims;

ALTER TABLE claims_v2 RENAME TO claims;

-- The indexes of 0001, as they were.
CREATE UNIQUE INDEX claims_one_use_per_customer ON claims (customer_id) WHERE state IN ('held', 'confirmed');
CREATE INDEX claims_held_by_expiry ON claims (expires_at) WHERE state = 'held';
CREATE INDEX claims_ended_by_update ON claims (updated_at) WHERE state IN ('released', 'expired');
