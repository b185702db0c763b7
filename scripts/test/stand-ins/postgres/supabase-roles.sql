-- The roles supabase/postgres's init scripts create (init-scripts/00000000000000-initial-schema.sql,
-- 00000000000001-auth-schema.sql …) before the deployment's own files run. As in the real image they have no
-- password: a role that logs in over TCP needs one set by the deployment (sbs's db/roles.sql does that).
-- Roles that exist already (POSTGRES_USER=supabase_admin, say) are left as they are.
do $$
declare
    r text[];
begin
    foreach r slice 1 in array array[
        ['postgres',               'login createrole createdb replication bypassrls'],
        ['supabase_admin',         'login superuser createdb createrole replication bypassrls'],
        ['authenticator',          'login noinherit'],
        ['anon',                   'nologin noinherit'],
        ['authenticated',          'nologin noinherit'],
        ['service_role',           'nologin noinherit bypassrls'],
        ['supabase_auth_admin',    'login noinherit createrole'],
        ['supabase_storage_admin', 'login noinherit createrole'],
        ['dashboard_user',         'nologin createdb createrole replication']
    ] loop
        if not exists (select from pg_roles where rolname = r[1]) then
            execute format('create role %I %s', r[1], r[2]);
        end if;
    end loop;
end
$$;
grant anon, authenticated, service_role to authenticator;
create schema if not exists auth authorization supabase_auth_admin;
grant create on database postgres to supabase_auth_admin;
alter role supabase_auth_admin set search_path = auth;
