-- Rendered by sbs from assets/deploy/db/roles.sql.mustache. Runs once, when the database is first created.
-- supabase/postgres creates its service roles without passwords; give them POSTGRES_PASSWORD, read from the
-- container's environment here so that this file holds no secret.
\set pgpass `echo "$POSTGRES_PASSWORD"`

ALTER USER authenticator WITH PASSWORD :'pgpass';
ALTER USER supabase_auth_admin WITH PASSWORD :'pgpass';
ALTER USER postgres WITH PASSWORD :'pgpass';
