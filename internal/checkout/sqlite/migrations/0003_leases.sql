-- The leases of the replicas (see saga.Lease): lease_owner names the
-- replica that works on the checkout, '' for none, until lease_until, a
-- Unix time in milliseconds of the database's clock (here, the clock of
-- the process that writes). Only lease_owner writes the record while it
-- runs, and the recoverers of the others pass it over. One process uses
-- an SQLite file, under one name, so that a restart takes up at once the
-- checkouts its last run held; the columns are here so that the log
-- keeps the same rules, and moves as it is, on PostgreSQL, which
-- replicas share.
ALTER TABLE checkouts ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE checkouts ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
