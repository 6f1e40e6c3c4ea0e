-- Transaction ids ("acquirer/stan/local time") are keys, never text to sort for people: compare
-- them byte by byte. Under the database's default collation (C.UTF-8 here, a libc locale) every
-- B-tree comparison of the recorded answers' primary key and the holds' unique key went through
-- strcoll, on every insert of every authorization; with "C" PostgreSQL compares with memcmp and can
-- use abbreviated keys. Equality, the only thing the switch asks of them, is unchanged.
ALTER TABLE recorded_answers ALTER COLUMN transaction_id TYPE TEXT COLLATE "C";
ALTER TABLE holds ALTER COLUMN transaction_id TYPE TEXT COLLATE "C";
