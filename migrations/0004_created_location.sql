-- A replayed 201 carries the same Location header as the first answer.
ALTER TABLE idempotency_keys ADD COLUMN location text;
