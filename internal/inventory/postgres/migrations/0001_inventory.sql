-- The Inventory's schema on PostgreSQL: the same tables, columns and
-- rules as on SQLite (internal/inventory/sqlite/migrations), so that the
-- data moves between them as it is. Times are Unix milliseconds of the
-- service's clock, as there.

-- The stock: the copies on hand of each book that has a record (a book
-- without one has none). Only SetStock and a commit change on_hand; the
-- CHECK keeps it from going below zero whatever a bug might try.
CREATE TABLE stock (
    book_id    integer PRIMARY KEY CHECK (book_id >= 1),
    on_hand    integer NOT NULL CHECK (on_hand BETWEEN 0 AND 1000000),
    updated_at bigint  NOT NULL
);

-- The reservations, each made by one Reserve under its caller's
-- idempotency key (one reservation a key). state is 'held' until it is
-- committed, released or expired; ended_at is when it left 'held' (its
-- expiry time for an expired one), NULL while it is held. A record is
-- deleted a week after it ended, its lines with it.
CREATE TABLE reservations (
    id              text   PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    idempotency_key text   NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 64),
    state           text   NOT NULL CHECK (state IN ('held', 'committed', 'released', 'expired')),
    created_at      bigint NOT NULL,
    expires_at      bigint NOT NULL,
    ended_at        bigint,
    CHECK ((state = 'held') = (ended_at IS NULL))
);

-- The sweeper's two queries: the held reservations past their expiry, and
-- the ended ones past their keeping.
CREATE INDEX reservations_held_by_expiry ON reservations (expires_at) WHERE state = 'held';
CREATE INDEX reservations_by_end ON reservations (ended_at) WHERE ended_at IS NOT NULL;

-- The lines of each reservation, in the order of its request (seq).
CREATE TABLE reservation_lines (
    reservation_id text    NOT NULL REFERENCES reservations (id) ON DELETE CASCADE,
    seq            integer NOT NULL,
    book_id        integer NOT NULL CHECK (book_id >= 1),
    quantity       integer NOT NULL CHECK (quantity BETWEEN 1 AND 10),
    PRIMARY KEY (reservation_id, seq),
    UNIQUE (reservation_id, book_id)
);

-- The holds: the lines of the reservations in state 'held', and nothing
-- else, with their reservation's expiry time. The copies a book has
-- available at a time T are its on_hand less the sum of its holds whose
-- expires_at is after T. Keyed by book first, for that sum.
CREATE TABLE holds (
    book_id        integer NOT NULL,
    reservation_id text    NOT NULL REFERENCES reservations (id) ON DELETE CASCADE,
    quantity       integer NOT NULL CHECK (quantity BETWEEN 1 AND 10),
    expires_at     bigint  NOT NULL,
    PRIMARY KEY (book_id, reservation_id)
);

CREATE INDEX holds_by_reservation ON holds (reservation_id);
