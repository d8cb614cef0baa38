-- A claimed delivery (queued or sending) is held until lease_until (unix seconds); past it the
-- process that claimed it is taken for dead and the row is owed again (storage/deliveries.py).
-- 0011 is reserved for the ANN helper's migration. Rows claimed before this migration have no
-- holder that renews them: their lease has expired.
ALTER TABLE deliveries ADD COLUMN lease_until INTEGER;
UPDATE deliveries SET lease_until = 0 WHERE status IN ('queued', 'sending');
