-- The stock: the copies on hand of each book that has a record (a book
-- without one has none). Only SetStock and a commit change on_hand; the
-- CHECK keeps it from going below zero whatever a bug might try.
-- updated_at is the Unix time, in milliseconds, of the last change.
CREATE TABLE stock (
    book_id    INTEGER PRIMARY KEY CHECK (book_id BETWEEN 1 AND 2147483647),
    on_hand    INTEGER NOT NULL CHECK (on_hand BETWEEN 0 AND 1000000),
    updated_at INTEGER NOT NULL
) STRICT;

-- The reservations, each made by one Reserve under its caller's
-- idempotency key (one reservation a key). state is 'held' until it is
-- committed, released or expired; ended_at is the Unix time, in
-- milliseconds, when it left 'held' (its expiry time for an expired one),
-- NULL while it is held. The times are the service's clock's, in
-- milliseconds. A record is deleted a week after it ended, its lines with
-- it.
CREATE TABLE reservations (
    id              TEXT    PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    idempotency_key TEXT    NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 64),
    state           TEXT    NOT NULL CHECK (state IN ('held', 'committed', 'released', 'expired')),
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    ended_at        INTEGER,
    CHECK ((state = 'held') = (ended_at IS NULL))
) STRICT, WITHOUT ROWID;

-- The sweeper's two queries: the held reservations past their expiry, and
-- the ended ones past their keeping.
CREATE INDEX reservations_held_by_expiry ON reservations (expires_at) WHERE state = 'held';
CREATE INDEX reservations_by_end ON reservations (ended_at) WHERE ended_at IS NOT NULL;

-- The lines of each reservation, in the order of its request (seq): what
-- it holds, or held. Kept with the reservation, to answer a retry of its
-- Reserve and to take its copies off the stock at commit.
CREATE TABLE reservation_lines (
    reservation_id TEXT    NOT NULL REFERENCES reservations (id) ON DELETE CASCADE,
    seq            INTEGER NOT NULL,
    book_id        INTEGER NOT NULL CHECK (book_id BETWEEN 1 AND 2147483647),
    quantity       INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 10),
    PRIMARY KEY (reservation_id, seq),
    UNIQUE (reservation_id, book_id)
) STRICT, WITHOUT ROWID;

-- The holds: the lines of the reservations in state 'held', and nothing
-- else (a row goes in the transaction that ends its reservation), with
-- their reservation's expiry time. The copies a book has available at a
-- time T are its on_hand less the sum of its holds whose expires_at is
-- after T: so that a hold past its expiry counts for nothing, before the
-- sweeper has recorded it. Keyed by book first, for that sum; bounded by
-- the checkouts of one reservation lifetime.
CREATE TABLE holds (
    book_id        INTEGER NOT NULL,
    reservation_id TEXT    NOT NULL REFERENCES reservations (id) ON DELETE CASCADE,
    quantity       INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 10),
    expires_at     INTEGER NOT NULL,
    PRIMARY KEY (book_id, reservation_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX holds_by_reservation ON holds (reservation_id);
