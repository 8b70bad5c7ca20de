-- propstream schema v2: the player's nba.com name beside each record, for readers (the dashboard).
-- Display only: never part of a key. Nullable, so rows written by v1 stay valid.
ALTER TABLE predictions_latest ADD COLUMN player_name text;
ALTER TABLE predictions_log ADD COLUMN player_name text;
ALTER TABLE grades ADD COLUMN player_name text;
