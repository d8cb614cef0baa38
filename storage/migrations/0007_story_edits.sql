-- One message per story and chat (issue 10): a later report of a story a chat already received
-- is delivered by editing that message. edit_of is the delivery whose message the row edits
-- (set when the row is claimed as an edit); an edit row never becomes a message of its own.
ALTER TABLE deliveries ADD COLUMN edit_of INTEGER;
CREATE INDEX deliveries_edit_of ON deliveries (edit_of) WHERE edit_of IS NOT NULL;
