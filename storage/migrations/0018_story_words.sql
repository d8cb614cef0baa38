-- Each article's story words (semantic.story_words of its title and summary: word stems and
-- figures), written with the row, as semantic.stories.words_text spells them. Story placement
-- compares a new article with the stored ones its vector shortlists, word by word: it worked
-- out each stored candidate's words again from its text (~16 µs each, ~1.6 an imported article,
-- ~5% of a PostgreSQL import). Rows stored before this have none, and are worked out as before.
ALTER TABLE articles ADD COLUMN story_words TEXT;
