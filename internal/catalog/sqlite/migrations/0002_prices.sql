-- Every book has a price: an amount in the integer minor units of a
-- currency (1299 and 'EUR' are 12.99 euros), never a float. Books of a
-- database from before prices get 0 and '', "no price": the Catalog serves
-- them without one, and logs how many there are at start.
ALTER TABLE books ADD COLUMN price INTEGER NOT NULL DEFAULT 0 CHECK (price >= 0);
ALTER TABLE books ADD COLUMN currency TEXT NOT NULL DEFAULT '' CHECK (
    (price = 0 AND currency = '') OR (price > 0 AND length(currency) = 3)
);
