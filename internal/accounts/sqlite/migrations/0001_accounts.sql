-- The customers. id is the customer's number, never reused
-- (AUTOINCREMENT): the user_id the Marketplace sends to Recommend. email
-- is trimmed and in lower case (accounts.NormalizeEmail). password_hash is
-- an argon2id PHC string: the password itself is never stored. Times are
-- Unix milliseconds.
CREATE TABLE customers (
    id            INTEGER PRIMARY KEY AUTOINCREMENT CHECK (id BETWEEN 1 AND 2147483647),
    email         TEXT    NOT NULL UNIQUE CHECK (email <> ''),
    name          TEXT    NOT NULL CHECK (name <> ''),
    password_hash TEXT    NOT NULL CHECK (password_hash LIKE '$%$%$%'),
    created       INTEGER NOT NULL
) STRICT;

-- The signed-in sessions, each known by the SHA-256 of its token: the
-- token itself is never stored. id orders them by age, for the cap of
-- sessions per customer.
CREATE TABLE sessions (
    id          INTEGER PRIMARY KEY,
    token_hash  BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    created     INTEGER NOT NULL,
    expires     INTEGER NOT NULL
) STRICT;

CREATE INDEX sessions_by_customer ON sessions (customer_id, id);
CREATE INDEX sessions_by_expiry ON sessions (expires);
