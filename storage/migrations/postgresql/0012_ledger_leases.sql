-- PostgreSQL's counterpart of ../0012_ledger_leases.sql: a claimed delivery's lease.
ALTER TABLE deliveries ADD COLUMN lease_until BIGINT;
UPDATE deliveries SET lease_until = 0 WHERE status IN ('queued', 'sending');
-- The leader's committed getUpdates offset, one row per bot (storage/cluster.py). Created by
-- the leadership connection itself before this migration, hence IF NOT EXISTS.
CREATE TABLE IF NOT EXISTS cluster_poll_offsets (
    scope TEXT PRIMARY KEY,
    next_update_id BIGINT NOT NULL,
    committed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
