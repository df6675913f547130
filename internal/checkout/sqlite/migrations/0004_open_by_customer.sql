-- The checkouts of a customer that have not ended, by customer: Begin
-- looks there for another unfinished checkout of the same cart. Without
-- it, that look walked every checkout the customer ever made (through the
-- primary key) and read each one's record, so that a customer's purchase
-- cost more with each one before it. A checkout leaves the index when it
-- ends: it holds only the checkouts under way.
CREATE INDEX checkouts_open ON checkouts (customer_id) WHERE state NOT IN ('done', 'failed');
