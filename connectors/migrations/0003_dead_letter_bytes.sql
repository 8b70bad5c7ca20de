-- propstream schema v3: dead letters keep their exact bytes (issue 14).
-- `original` becomes bytea (text refused a NUL byte and lost bytes that are not UTF-8);
-- `preview` is it as printable text (up to 4000 characters: a whole event's JSON, for readers
-- that search dead letters by what they name); `size` and `sha256` describe the whole original,
-- of which at most 256 KiB is kept (a dead letter is stored truncated, never dropped).
ALTER TABLE dead_letters ADD COLUMN preview text NOT NULL DEFAULT '';
UPDATE dead_letters SET preview = left(original, 4000);
ALTER TABLE dead_letters ALTER COLUMN original TYPE bytea USING convert_to(original, 'UTF8');
ALTER TABLE dead_letters ADD COLUMN size bigint;
UPDATE dead_letters SET size = octet_length(original);
ALTER TABLE dead_letters ALTER COLUMN size SET NOT NULL;
ALTER TABLE dead_letters ADD COLUMN sha256 text NOT NULL DEFAULT '';
UPDATE dead_letters SET sha256 = encode(sha256(original), 'hex');
