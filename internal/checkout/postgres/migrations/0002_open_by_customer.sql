-- The checkouts of a customer that have not ended, by customer: Begin
-- looks there for another unfinished checkout of the same cart, rather
-- than through every checkout the customer ever made. A checkout leaves
-- the index when it ends: it holds only the checkouts under way.
CREATE INDEX checkouts_open ON checkouts (customer_id) WHERE state NOT IN ('done', 'failed');
