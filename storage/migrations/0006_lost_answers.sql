-- Sends whose answer was lost (the message may have arrived), per delivery: such a send is
-- made again at most once, and the count must survive a restart to keep that promise.
ALTER TABLE deliveries ADD COLUMN lost_answers INTEGER NOT NULL DEFAULT 0;
