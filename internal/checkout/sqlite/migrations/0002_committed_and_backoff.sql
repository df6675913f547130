-- Two changes to the saga log (see package checkout).
--
-- The state committed: the stock taken for good, the order not yet
-- recorded. It is recorded before the order is, so that a checkout taken
-- up again after its order was recorded never asks the Inventory to take
-- the stock a second time (the hold's record may be gone by then), and
-- so is never refunded once its order may exist.
--
-- The recoverer's backoff: attempts is how many times in a row the
-- recoverer took the checkout up and found it could not go on (a service
-- it needs did not answer), and next_try_at when it is to try again, a
-- Unix time in milliseconds (0: at once). Each stall doubles the wait, up
-- to a few minutes; a step that moves the checkout on sets both back to
-- 0. The recoverer takes up the checkouts that are due, those paid for
-- (charged, committed) first, then by next_try_at: so that checkouts
-- stuck on a service down cannot keep the others waiting.
--
-- SQLite cannot change a CHECK constraint: the table is made again, with
-- its rows.
CREATE TABLE checkouts_v2 (
    customer_id INTEGER NOT NULL CHECK (customer_id >= 1),
    key         TEXT    NOT NULL CHECK (length(key) BETWEEN 1 AND 64),
    id          TEXT    NOT NULL UNIQUE CHECK (length(id) BETWEEN 1 AND 64),
    request     TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('reserving', 'charged', 'committed', 'ordered', 'undoing', 'done', 'failed')),
    record      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_try_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (customer_id, key)
) STRICT;

INSERT INTO checkouts_v2 (customer_id, key, id, request, state, record, created_at, updated_at)
    SELECT customer_id, key, id, request, state, record, created_at, updated_at FROM checkouts;

DROP TABLE checkouts;

ALTER TABLE checkouts_v2 RENAME TO checkouts;

-- The recoverer's list: the checkouts that have not ended, by when they
-- are due.
CREATE INDEX checkouts_due ON checkouts (next_try_at) WHERE state NOT IN ('done', 'failed');

-- The sweeper's list: the checkouts that ended, by when.
CREATE INDEX checkouts_ended ON checkouts (updated_at) WHERE state IN ('done', 'failed');
