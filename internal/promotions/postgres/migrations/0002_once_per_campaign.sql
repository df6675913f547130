-- Once per customer and campaign, as SQLite's 0003: a customer who used
-- one campaign may use the next. The first start is recorded for each
-- campaign, by its code, and is that campaign's start when no setting
-- gives one; and at most one claim of a customer is held or confirmed for
-- each campaign (the code of its discount), instead of one for good. The
-- tables and columns stay those of SQLite.
CREATE TABLE campaign_starts (
    code       text   NOT NULL PRIMARY KEY CHECK (length(code) BETWEEN 1 AND 64),
    started_at bigint NOT NULL
);

-- The start recorded so far was that of the one campaign the shop had
-- run up to this schema: "buy two books, get the third free".
INSERT INTO campaign_starts (code, started_at) SELECT 'buy_two_get_one_free', started_at FROM service_start;

DROP TABLE service_start;

-- Of two transactions that each found no claim of a customer held for a
-- campaign and wrote one, the second is refused (a unique violation), and,
-- run again, finds the first's. The claims held or confirmed so far are
-- of one campaign: they keep to the new index.
DROP INDEX claims_one_use_per_customer;

CREATE UNIQUE INDEX claims_one_use_per_customer_and_campaign ON claims (customer_id, discount_code) WHERE state IN ('held', 'confirmed');
