-- The HS 1992 six-digit codes a product's trade is recorded under, so the
-- trade connectors can map flows to products. The service checks each code
-- against the trade data's code table; the database keeps the shape.
ALTER TABLE products
    ADD COLUMN hs_codes text[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT products_hs_codes_shape
        CHECK (array_to_string(hs_codes, ',') ~ '^([0-9]{6}(,[0-9]{6})*)?$'
               AND cardinality(hs_codes) <= 20);

CREATE INDEX products_hs_codes ON products USING gin (hs_codes);
