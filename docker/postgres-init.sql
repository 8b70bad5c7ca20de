-- Run once by the postgres image on a new volume (docker-entrypoint-initdb.d): the read-only
-- role the dashboard connects as. `propstream db migrate` (the worker runs it) grants it SELECT.
CREATE ROLE propstream_reader LOGIN PASSWORD 'propstream_reader';
