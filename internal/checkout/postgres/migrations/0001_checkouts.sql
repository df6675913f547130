-- The Checkout's saga log on PostgreSQL: the same table, columns and
-- rules as on SQLite after its migrations (internal/checkout/sqlite/
-- migrations, 0001 to 0003), so that the log moves between them as it
-- is. A row for each checkout, by its customer and its idempotency key,
-- written before the checkout asks any other service to do anything and
-- at each step after (see package checkout).
--
-- id is the checkout's attempt, from which the keys of its calls to the
-- other services are made. request is the fingerprint of the request.
-- state is where the checkout is. record is the rest, as JSON text (kept
-- as text, byte for byte as written): the lines as priced, the amounts,
-- the shipping address, the hold's and the charge's ids, the order, the
-- error. No card data, ever. attempts and next_try_at are the
-- recoverer's backoff (0: due at once).
--
-- lease_owner and lease_until are the lease of the replica that works on
-- the checkout (see saga.Lease): '' for none; until, a Unix time in
-- milliseconds of the database's clock, so that the replicas' clocks need
-- not agree. Only the owner writes the record while its lease runs, and
-- the recoverers of the other replicas pass it over.
--
-- The other times are Unix milliseconds of the service's clock. The rows
-- of the checkouts that ended (done or failed) are deleted a day after
-- they ended; the others stay until a recoverer ends them.
CREATE TABLE checkouts (
    customer_id integer NOT NULL CHECK (customer_id >= 1),
    key         text    NOT NULL CHECK (length(key) BETWEEN 1 AND 64),
    id          text    NOT NULL UNIQUE CHECK (length(id) BETWEEN 1 AND 64),
    request     text    NOT NULL,
    state       text    NOT NULL CHECK (state IN ('reserving', 'charged', 'committed', 'ordered', 'undoing', 'done', 'failed')),
    record      text    NOT NULL,
    created_at  bigint  NOT NULL,
    updated_at  bigint  NOT NULL,
    attempts    integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_try_at bigint  NOT NULL DEFAULT 0,
    lease_owner text    NOT NULL DEFAULT '',
    lease_until bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (customer_id, key)
);

-- The recoverer's list: the checkouts that have not ended, by when they
-- are due.
CREATE INDEX checkouts_due ON checkouts (next_try_at) WHERE state NOT IN ('done', 'failed');

-- The sweeper's list: the checkouts that ended, by when.
CREATE INDEX checkouts_ended ON checkouts (updated_at) WHERE state IN ('done', 'failed');
