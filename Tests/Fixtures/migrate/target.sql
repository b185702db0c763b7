-- What a fresh server's own database holds before `sbs migrate` (the target in the tests): Supabase's API roles,
-- pgcrypto in the extensions schema, and the auth schema as the server's GoTrue creates it at its first start
-- (scripts/test/stand-ins/gotrue/auth-schema.sql, an older GoTrue's: auth.users has no is_anonymous). Nothing in public.
-- Loaded by scripts/test/pg-pair.sh seed as the superuser:  psql -v ON_ERROR_STOP=1 -f target.sql

do $$
declare
    r text[];
begin
    foreach r slice 1 in array array[
        ['anon',          'nologin noinherit'],
        ['authenticated', 'nologin noinherit'],
        ['service_role',  'nologin noinherit bypassrls']
    ] loop
        if not exists (select from pg_roles where rolname = r[1]) then
            execute format('create role %I %s', r[1], r[2]);
        end if;
    end loop;
end
$$;

create schema if not exists extensions;
create extension if not exists pgcrypto with schema extensions;

\ir ../../../scripts/test/stand-ins/gotrue/auth-schema.sql
