import Deploy
import FoundationEssentials
import Processes
import SBSCore

/// Whether app-db's databases changed since a backup dumped them, read in one psql run without reading any table:
/// the cluster's identity and write-ahead-log position (every change to a table, a role or the list of databases
/// writes to the log first), the databases' names, and in each database its sequences' values (`nextval` hands out
/// values without writing to the log each time) and whether it has unlogged tables (whose changes skip the log).
///
/// Equal states mean an equal dump: `sbs backup` then keeps the previous backup's dumps instead of reading the whole
/// database again. The state is read before the dumps start, so a change made while they run shows at the next
/// backup; reading it can only make a backup dump when nothing changed (a checkpoint, a vacuum), never skip a change.
public struct DatabaseState: Sendable, Equatable {
    /// The lines psql printed, as the manifest keeps them (`BackupManifest.databaseState`).
    public var text: String

    /// The state of `databases` (the names `BackupJob.databaseNames` lists).
    /// - Returns: nil when it cannot be read, when the database list is not `databases`, or when a database has an
    ///   unlogged table (its changes would not show): the backup then dumps everything.
    public static func read(databases: [String], project: ComposeProject, runner: any CommandRunner) async -> Self? {
        var arguments = [
            "psql", "-U", "postgres", "-d", "template1", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", clusterQuery,
        ]
        for database in databases { arguments += ["-c", "\\connect \"\(database)\"", "-c", databaseQuery] }
        guard let command = try? await project.exec("app-db", arguments, runner: runner),
            let result = try? await runner.run(command, timeout: .seconds(300)),
            result.status == 0
        else { return nil }
        return parse(result.stdout, databases: databases)
    }

    static let clusterQuery = """
        SELECT system_identifier || '|' || pg_current_wal_lsn() || '|' || (SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE datallowconn AND NOT datistemplate) FROM pg_control_system()
        """
    static let databaseQuery = """
        SELECT current_database() || '|' || (SELECT count(*) FROM pg_class WHERE relpersistence = 'u') || '|' || (SELECT md5(coalesce(string_agg(schemaname || '.' || sequencename || '=' || coalesce(last_value::text, '-'), ',' ORDER BY schemaname, sequencename), '')) FROM pg_sequences)
        """

    /// What psql printed for `databases`, checked line by line; nil unless it is a complete state.
    static func parse(_ output: String, databases: [String]) -> Self? {
        let lines = output.split(separator: "\n").map(String.init)
        guard lines.count == databases.count + 1 else { return nil }
        let cluster = lines[0].split(separator: "|", omittingEmptySubsequences: false)
        guard cluster.count == 3, !cluster[0].isEmpty, !cluster[1].isEmpty,
            cluster[2] == databases.sorted().joined(separator: ",")[...]
        else { return nil }
        for (line, database) in zip(lines.dropFirst(), databases) {
            let fields = line.split(separator: "|", omittingEmptySubsequences: false)
            guard fields.count == 3, fields[0] == database[...], fields[1] == "0", fields[2].utf8.count == 32 else {
                return nil
            }
        }
        return Self(text: lines.joined(separator: "\n"))
    }
}
