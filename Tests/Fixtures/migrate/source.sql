-- A database made to look like a client's hosted Supabase project (PostgreSQL 15), the source of `sbs migrate` in
-- the tests. Loaded by scripts/test/pg-pair.sh seed as the superuser, into an empty cluster's postgres database:
--
--   psql -v ON_ERROR_STOP=1 -v rows=ROWS -f source.sql      (ROWS: rows of public.events, default 1000000)
--
-- Users (auth.users, one 'email' identity each, bcrypt hashes made by pgcrypto as GoTrue's own are):
--   user1@example.com / password-1   id 00000000-0000-4000-8000-000000000001
--   user2@example.com / password-2   id 00000000-0000-4000-8000-000000000002
--   user3@example.com / password-3   id 00000000-0000-4000-8000-000000000003   (also a confirmed phone)
--   user4@example.com / password-4   id 00000000-0000-4000-8000-000000000004
--   user5@example.com / password-5   id 00000000-0000-4000-8000-000000000005
-- auth.sessions holds one row per user: sessions are not migrated, so the target must have none of them.
--
-- Every value is deterministic (uuids from md5, times from the row's number) except the password hashes' salts.
-- What a copy must keep, and what the fixture has on purpose:
--   - a generated column in auth.users (confirmed_at) and in auth.identities (email): copied as DEFAULT, never as
--     a value; auth.users has is_anonymous, which the target's older auth schema lacks;
--   - sequences whose last_value is above max(id) (rows deleted after the load; tasks' identity advanced 5 more);
--   - a trigger on tasks that overwrites created_at: a loader that fires triggers changes every task's created_at;
--   - row level security on tasks; a table without a primary key and with duplicate rows (audit_log);
--   - bytea with every byte value, NULL and empty; jsonb with unicode and nested arrays; a text with a tab, a
--     newline, a backslash and quotes.

\if :{?rows}
\else
\set rows 1000000
\endif

-- Supabase's API roles.
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

create schema if not exists storage;
create table storage.buckets (id text primary key, name text);

-- auth: as current GoTrue's migrations leave it (the tables a migration copies, and sessions, which it must not):
-- the tables the server's GoTrue makes (the stand-in's), then the column a newer GoTrue added since, which the
-- server's tables lack. pgcrypto comes with them, in the schema extensions.
\ir ../../../scripts/test/stand-ins/gotrue/auth-schema.sql
alter table auth.users add column is_anonymous boolean not null default false;
create index users_is_anonymous_idx on auth.users (is_anonymous);
comment on table auth.users is 'Auth: Stores user login data within a secure schema.';

create table auth.sessions (
    id uuid primary key,
    user_id uuid references auth.users on delete cascade,
    created_at timestamptz
);

-- GoTrue writes '' (not NULL) into the token columns; its Go code cannot read a NULL there.
insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                        confirmation_token, confirmation_sent_at, recovery_token, email_change_token_new, email_change,
                        last_sign_in_at, raw_app_meta_data, raw_user_meta_data, is_super_admin, created_at, updated_at,
                        phone, phone_confirmed_at)
select '00000000-0000-0000-0000-000000000000',
       ('00000000-0000-4000-8000-00000000000' || n)::uuid,
       'authenticated', 'authenticated',
       'user' || n || '@example.com',
       extensions.crypt('password-' || n, extensions.gen_salt('bf', 6)),
       timestamptz '2024-01-01 09:00:00+00' + n * interval '1 day',
       '', timestamptz '2024-01-01 08:59:00+00' + n * interval '1 day', '', '', '',
       case when n <> 4 then timestamptz '2024-06-01 12:00:00+00' + n * interval '1 hour' end,
       '{"provider": "email", "providers": ["email"]}',
       case n when 2 then '{"name": "Zoë Ångström", "locale": "sv-SE", "emoji": "🚀"}'::jsonb
              else jsonb_build_object('name', 'User ' || n) end,
       false,
       timestamptz '2024-01-01 08:59:00+00' + n * interval '1 day',
       timestamptz '2024-06-01 12:00:00+00' + n * interval '1 hour',
       case when n = 3 then '15550000003' end,
       case when n = 3 then timestamptz '2024-01-02 10:00:00+00' end
from generate_series(1, 5) as n;

insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
select u.id::text, u.id,
       jsonb_build_object('sub', u.id::text, 'email', u.email, 'email_verified', true, 'phone_verified', false),
       'email', u.last_sign_in_at, u.created_at, u.updated_at
from auth.users as u;

insert into auth.sessions (id, user_id, created_at)
select md5('session-' || u.email)::uuid, u.id, u.updated_at from auth.users as u;

-- public: the product's tables. Supabase grants its API roles everything in public by default privileges.
grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;

create table public.agent_conversations (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references auth.users (id),
    title text,
    messages jsonb not null default '[]',
    created_at timestamptz default now()
);

create table public.tasks (
    id bigint generated by default as identity primary key,
    conversation_id uuid references public.agent_conversations (id),
    title text not null,
    status text not null check (status in ('open', 'running', 'done')),
    payload jsonb,
    created_at timestamptz default now()
);

create table public.deliverables (
    id bigserial primary key,
    task_id bigint not null references public.tasks (id),
    name text not null,
    content bytea,
    metadata jsonb
);

-- Its foreign key and index come after the load (as pg_dump orders them): much faster for a million rows.
create table public.events (
    id bigserial primary key,
    task_id bigint,
    kind text not null,
    payload jsonb,
    created_at timestamptz not null
);
comment on table public.events is 'What happened to a task, step by step (the large table).';

create table public.audit_log (
    at text,
    line text
);

-- 300 conversations, 5 users; conversation 7's title has a tab, a newline, a backslash and both quotes.
insert into public.agent_conversations (id, user_id, title, messages, created_at)
select md5('conversation-' || n)::uuid,
       ('00000000-0000-4000-8000-00000000000' || (n % 5 + 1))::uuid,
       case when n = 7 then E'Tab\there, newline\nthere, a backslash \\ and quotes '' "'
            when n % 25 = 0 then null
            else 'Conversation ' || n end,
       case when n % 10 = 0 then '[]'::jsonb
            else jsonb_build_array(
                jsonb_build_object('role', 'user', 'content', 'Plan step ' || n),
                jsonb_build_object('role', 'assistant', 'content', 'Grüße, 你好, привет, 🚀 #' || n,
                                   'tool_calls', jsonb_build_array(jsonb_build_array(n, n * 2, jsonb_build_array()),
                                                                   jsonb_build_object('name', 'search', 'args', '{}'::jsonb))))
       end,
       timestamptz '2024-02-01 00:00:00+00' + n * interval '1 hour'
from generate_series(1, 300) as n
order by n;

-- 600 tasks (ids 1 to 600 from the identity), two per conversation, some in none.
insert into public.tasks (conversation_id, title, status, payload, created_at)
select case when n % 50 <> 0 then md5('conversation-' || ((n - 1) / 2 + 1))::uuid end,
       'Task ' || n,
       (array['open', 'running', 'done'])[n % 3 + 1],
       case when n % 9 = 0 then null
            else jsonb_build_object('priority', n % 5, 'tags', jsonb_build_array('α', 'β', n::text),
                                    'matrix', jsonb_build_array(jsonb_build_array(1, 2), jsonb_build_array(3, jsonb_build_array(n))),
                                    'note', 'ünïcødé ✓') end,
       timestamptz '2024-02-01 00:30:00+00' + n * interval '30 minutes'
from generate_series(1, 600) as n
order by n;

-- 600 deliverables, one per task: 3.2 KB of bytes from md5 (every byte value occurs), every 7th NULL, the first empty.
insert into public.deliverables (task_id, name, content, metadata)
select n,
       'deliverable-' || n || '.bin',
       case when n = 1 then ''::bytea
            when n % 7 = 0 then null
            else decode(repeat(md5(n::text) || md5((n + 1)::text), 100), 'hex') end,
       case when n % 11 = 0 then null
            else jsonb_build_object('mime', 'application/octet-stream', 'size', 3200, 'labels', jsonb_build_array('ä', 'ß')) end
from generate_series(1, 600) as n
order by n;

insert into public.events (task_id, kind, payload, created_at)
select case when n % 13 = 0 then null else n % 600 + 1 end,
       (array['created', 'started', 'progress', 'finished'])[n % 4 + 1],
       jsonb_build_object('n', n, 'step', n % 100, 'ok', n % 2 = 0),
       timestamptz '2024-01-01 00:00:00+00' + n * interval '1 second'
from generate_series(1, :rows) as n;

alter table public.events add constraint events_task_id_fkey foreign key (task_id) references public.tasks (id);
create index events_task_id_idx on public.events (task_id);

insert into public.audit_log (at, line) values
    ('2024-03-01T10:00:00Z', 'login user1@example.com'),
    ('2024-03-01T10:00:00Z', 'login user1@example.com'),
    ('2024-03-01T10:00:00Z', 'login user1@example.com'),
    ('2024-03-01T10:05:00Z', 'task 3 started'),
    ('2024-03-01T10:05:00Z', 'task 3 started'),
    ('2024-03-01T10:09:00Z', null),
    (null, 'no time');

-- Deletions after the load: every 10th task with its deliverables; half of its events go, the rest lose the task;
-- the last 5 events go. Every sequence then stands above max(id); the tasks' identity 5 more.
delete from public.events where task_id % 10 = 0 and id % 3 = 0;
update public.events set task_id = null where task_id % 10 = 0;
delete from public.events where id > :rows - 5;
delete from public.deliverables where task_id % 10 = 0;
delete from public.tasks where id % 10 = 0;
select nextval(pg_get_serial_sequence('public.tasks', 'id')) from generate_series(1, 5) \g /dev/null

-- Objects a schema copy must bring along. The trigger comes after the load: the rows keep their own created_at.
create view public.open_tasks as
    select id, conversation_id, title, created_at from public.tasks where status = 'open';

create function public.task_count() returns bigint
    language sql stable
    as $$ select count(*) from public.tasks $$;

create function public.tasks_set_created_at() returns trigger
    language plpgsql
    as $$
begin
    new.created_at := now();
    return new;
end
$$;
create trigger tasks_set_created_at before insert on public.tasks
    for each row execute function public.tasks_set_created_at();

alter table public.tasks enable row level security;
create policy tasks_authenticated on public.tasks to authenticated using (true);

analyze;
