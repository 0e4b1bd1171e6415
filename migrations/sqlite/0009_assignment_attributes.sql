-- User attributes given at the first exposure (a JSON object of strings; NULL when none).
ALTER TABLE assignments ADD COLUMN attributes TEXT;
