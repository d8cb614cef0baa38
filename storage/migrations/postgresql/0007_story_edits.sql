-- PostgreSQL's counterpart of ../0007_story_edits.sql.
ALTER TABLE deliveries ADD COLUMN edit_of BIGINT;
CREATE INDEX deliveries_edit_of ON deliveries (edit_of) WHERE edit_of IS NOT NULL;
