-- The saga log: a row for each checkout, by its customer and its
-- idempotency key, written before the checkout asks any other service to
-- do anything and at each step after (see package checkout).
--
-- id is the checkout's attempt: a random id from which the keys of its
-- calls to the other services are made; a new attempt under the same key
-- (after one that failed with Unavailable) replaces the row, with a new
-- id. request is the fingerprint of the request (its cart, total and
-- address), to tell a retry from a key reused for another checkout. state
-- is where the checkout is. record is the rest, as JSON: the lines as
-- priced, the amounts, the shipping address, the hold's and the charge's
-- ids, the order, the error. No card data, ever.
--
-- created_at and updated_at are Unix times in milliseconds. The rows of
-- the checkouts that ended (done or failed) are deleted a day after they
-- ended, which bounds the table to the checkouts of about a day; the
-- others stay until the recoverer ends them.
CREATE TABLE checkouts (
    customer_id INTEGER NOT NULL CHECK (customer_id >= 1),
    key         TEXT    NOT NULL CHECK (length(key) BETWEEN 1 AND 64),
    id          TEXT    NOT NULL UNIQUE CHECK (length(id) BETWEEN 1 AND 64),
    request     TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('reserving', 'charged', 'ordered', 'undoing', 'done', 'failed')),
    record      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (customer_id, key)
) STRICT;

-- The recoverer's list: the checkouts that have not ended, least recently
-- changed first.
CREATE INDEX checkouts_unfinished ON checkouts (updated_at) WHERE state NOT IN ('done', 'failed');

-- The sweeper's list: the checkouts that ended, by when.
CREATE INDEX checkouts_ended ON checkouts (updated_at) WHERE state IN ('done', 'failed');
