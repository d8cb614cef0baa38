-- PostgreSQL's counterpart of ../0006_lost_answers.sql.
ALTER TABLE deliveries ADD COLUMN lost_answers INTEGER NOT NULL DEFAULT 0;
