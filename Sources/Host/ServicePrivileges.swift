/// What each service of the stack may do inside its container, and why: docker-compose.yml is rendered from this
/// table (`cap_drop: [ALL]`, `security_opt: [no-new-privileges:true]`, the `cap_add`, `read_only`, `tmpfs` and
/// `deploy.resources.limits.pids` below), and `sbs verify`'s `privileges` check compares every running container
/// with it, so a hand edit that widens a service's privileges is reported.
///
/// The capabilities and writable paths are those of the real images the answers name by default (their
/// Dockerfiles and entrypoints); where a service is not read-only, `writableRootWhy` says why.
public struct ServicePrivileges: Sendable, Equatable {
    /// A Linux capability (without `CAP_`), and why the service needs it.
    public struct Capability: Sendable, Equatable {
        public var name: String
        public var why: String
    }

    /// A path the service writes in a read-only container: a tmpfs, emptied at every start.
    public struct Writable: Sendable, Equatable {
        public var path: String
        public var why: String
    }

    public var service: StackService
    /// Added back after `cap_drop: [ALL]`.
    public var capabilities: [Capability]
    /// nil: the root filesystem is read-only (`read_only: true`); otherwise why it is not.
    public var writableRootWhy: String?
    /// tmpfs mounts of a read-only container.
    public var writable: [Writable]
    /// `deploy.resources.limits.pids`: processes and threads together. Generous: a fork bomb stops there, a busy
    /// service does not.
    public var pidsLimit: Int

    public var readOnly: Bool { writableRootWhy == nil }
    public var capabilityNames: [String] { capabilities.map(\.name) }
}

extension StackService {
    /// The service's row of the table.
    public var privileges: ServicePrivileges {
        func cap(_ name: String, _ why: String) -> ServicePrivileges.Capability { .init(name: name, why: why) }
        func tmp(_ path: String, _ why: String) -> ServicePrivileges.Writable { .init(path: path, why: why) }
        func row(
            _ capabilities: [ServicePrivileges.Capability] = [], writableRootWhy: String? = nil,
            writable: [ServicePrivileges.Writable] = [], pids: Int = 256
        ) -> ServicePrivileges {
            ServicePrivileges(
                service: self, capabilities: capabilities, writableRootWhy: writableRootWhy, writable: writable,
                pidsLimit: pids)
        }
        let scratch = tmp("/tmp", "temporary files")
        switch self {
        case .appDB:
            // postgres's docker-entrypoint.sh starts as root, gives PGDATA and the socket folder to postgres and
            // runs again as postgres (gosu); one process per connection.
            return row(
                [
                    cap("CHOWN", "the entrypoint gives PGDATA and /var/run/postgresql to postgres"),
                    cap(
                        "DAC_READ_SEARCH",
                        "the entrypoint, as root, looks through PGDATA (owned by postgres, mode 0700)"),
                    cap("FOWNER", "the entrypoint sets the modes of PGDATA and /var/run/postgresql, owned by postgres"),
                    cap("SETGID", "the entrypoint switches to postgres (gosu)"),
                    cap("SETUID", "the entrypoint switches to postgres (gosu)"),
                ],
                writableRootWhy:
                    "supabase/postgres writes outside its data volume (its pgsodium key under /etc/postgresql-custom, the state of its init scripts), and documents no list of those paths",
                pids: 1024)
        case .appAuth:
            // GoTrue (Go) listens on 9999 as its own user and writes nothing: its migrations are read from the image.
            return row()
        case .appKong:
            // Kong listens on 8000 and 8100 as the kong user; it writes its nginx configuration and pid files to its
            // prefix at every start (KONG_PREFIX, as Kong's Helm chart does for a read-only root). The prefix is a
            // folder of /tmp, not a tmpfs of its own: Docker mounts a tmpfs on a folder the image lacks 1777 at the
            // first start, but with the mode of the folder it made for it (root's, 0755) at every start after (a
            // restart, a reboot), and the kong user could no longer write it. /tmp keeps the image's 1777.
            return row(
                writable: [
                    tmp(
                        "/tmp",
                        "temporary files, and the prefix of Kong (KONG_PREFIX=/tmp/kong): nginx.conf, pid files, sockets"
                    )
                ])
        case .appAPI, .appWeb:
            // Node listening on 4000 and 3000: no capability.
            return row(writable: [scratch])
        case .nginx:
            return row(
                [
                    cap("CHOWN", "the master gives its temporary folders to the worker user"),
                    cap(
                        "NET_BIND_SERVICE",
                        "it listens on 80 and 443 (Docker since 20.10 lets containers bind ports below 1024 without it, older engines do not)"
                    ),
                    cap("SETGID", "the workers switch to the nginx user"),
                    cap("SETUID", "the workers switch to the nginx user"),
                ],
                writable: [
                    tmp("/var/cache/nginx", "client bodies and proxied answers buffered to disk"),
                    tmp("/run", "nginx.pid"), scratch,
                ], pids: 512)
        case .ollama:
            return row(
                writableRootWhy:
                    "Ollama unpacks its runners (hundreds of MB with the GPU libraries) into a temporary folder and executes them: a tmpfs would hold them in memory",
                pids: 1024)
        case .monitoring:
            // Grafana runs as grafana (472) and writes its database and plugins to the grafana_data volume; it logs to
            // the console (grafana.ini), not to /var/log/grafana.
            return row(writable: [scratch])
        case .appPooler:
            // PgBouncer listens on 6432 as the postgres user of its image; its entrypoint writes the user list
            // (app-db's password, from the Docker secret) to a tmpfs, never to the image or a volume.
            return row(writable: [tmp("/tmp", "the user list PgBouncer reads (auth_file), written at each start")])
        case .prometheus, .alertmanager, .nodeExporter, .postgresExporter, .blackboxExporter:
            // As nobody, on ports above 1024, writing only to their volumes (Prometheus's TSDB, Alertmanager's
            // silences). blackbox-exporter probes over HTTP only: ICMP would need NET_RAW.
            return row()
        }
    }
}
