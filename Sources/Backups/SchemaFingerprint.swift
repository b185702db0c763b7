import Deploy
import FoundationEssentials
import Processes
import SBSCore

/// The shape of every database of the stack's app-db: its tables, views and their columns with types, and its
/// indexes, as one digest per database. What a new version's migration changes; `sbs upgrade` compares it before
/// and after an upgrade that failed, to know whether the rollback must restore the database too.
public enum SchemaFingerprint {
    static let query = """
        SELECT md5(coalesce(string_agg(item, E'\\n' ORDER BY item), '')) FROM (SELECT n.nspname || '.' || c.relname || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod) AS item FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' UNION ALL SELECT schemaname || '.' || indexname || ':' || indexdef FROM pg_indexes WHERE schemaname NOT IN ('pg_catalog', 'information_schema')) AS shape
        """

    /// `DATABASE:DIGEST` for each database, one line each.
    /// - Throws: `UserError` when app-db does not answer.
    public static func read(project: ComposeProject, runner: any CommandRunner) async throws(UserError) -> String {
        var lines: [String] = []
        for database in try await BackupJob.databaseNames(project: project, runner: runner) {
            let result = try await runner.run(
                try await project.exec(
                    "app-db",
                    [
                        "psql", "-U", "postgres", "-d", database, "-At", "-c", query,
                    ], runner: runner), timeout: .seconds(300))
            guard result.status == 0 else {
                throw UserError(
                    "Reading the schema of \(database) failed (exit \(result.status)): \(result.stderr.lastLines(3))")
            }
            lines.append("\(database):\(result.stdout.trimmed)")
        }
        return lines.joined(separator: "\n")
    }
}
