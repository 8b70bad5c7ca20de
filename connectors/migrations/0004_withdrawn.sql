-- A prediction a late input showed no in-order run would have made is withdrawn (the engine's
-- rewind): its id stays in the log, marked, and leaves predictions_latest and grades.
ALTER TABLE predictions_log ADD COLUMN withdrawn boolean NOT NULL DEFAULT false;
ALTER TABLE predictions_latest ADD COLUMN withdrawn boolean NOT NULL DEFAULT false;
