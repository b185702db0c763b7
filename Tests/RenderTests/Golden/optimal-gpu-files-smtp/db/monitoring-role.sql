-- Rendered by sbs from assets/deploy/db/monitoring-role.sql.mustache, mounted into app-db, where start-stack runs
-- it (psql -f, as postgres) on every run with monitoring: postgres-exporter's login, sbs_monitor, a member of
-- pg_monitor (it reads statistics and settings, no table) with read-only transactions. Its password is read from
-- app-db's environment (MONITORING_DB_PASSWORD from .env), so this file holds no secret; setting it each run
-- follows a changed secret. On a swarm the variable is exported by app-db's entrypoint only, so a psql started by
-- `docker exec` reads the Docker secret behind it.
\set ON_ERROR_STOP on
\set monitorpass `echo "$SBS_MONITORING_DB_PASSWORD"`
SELECT length(:'monitorpass') >= 16 AS has_password \gset
\if :has_password
\else
-- No password in app-db's environment: stop with an error that says so (psql has no statement to fail by itself).
SELECT 'SBS_MONITORING_DB_PASSWORD is missing from the environment of app-db'::int;
\endif
SELECT NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'sbs_monitor') AS create_role \gset
\if :create_role
CREATE ROLE sbs_monitor;
\endif
ALTER ROLE sbs_monitor WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION INHERIT CONNECTION LIMIT 3
    PASSWORD :'monitorpass';
ALTER ROLE sbs_monitor SET default_transaction_read_only = on;
GRANT pg_monitor TO sbs_monitor;
