import Crypto
import FoundationEssentials
import Processes
import SBSCore

/// The stack's compose project: its name and the deploy folder holding `docker-compose.yml` and `.env`. Every
/// `docker compose` command sbs runs is built here, so all of them name the same project and files.
public struct ComposeProject: Sendable, Hashable, Codable {
    /// The compose project name: container, network and volume names start with it (`sbs_postgres_data`).
    public var name: String
    /// The deploy folder (`paths.deploy_dir` under the root).
    public var directory: String

    public init(name: String, directory: String) {
        self.name = name
        self.directory = directory
    }

    /// The project of an install under `root`: `sbs` on a real install (`--root /`); under another root (a demo,
    /// a test) `sbs-` and 8 hex digits of the root's SHA-256, so an install under a folder never touches the
    /// containers or volumes of the real one, nor of another folder's.
    public static func name(forRoot root: String) -> String {
        root == "/" ? "sbs" : "sbs-" + SHA256.hash(data: Data(root.utf8)).prefix(4).hex
    }

    public var composeFile: String { directory + "/docker-compose.yml" }

    /// The named volume compose creates for `volume` (`postgres_data` → `sbs_postgres_data`).
    public func volume(_ volume: String) -> String { name + "_" + volume }

    /// `docker compose` with this project's name, folder and file, then `arguments`. Compose reads `.env` from the
    /// project folder itself: no secret is ever in the argv or the environment of the command.
    public func command(_ arguments: [String]) -> [String] {
        ["docker", "compose", "--project-name", name, "--project-directory", directory, "--file", composeFile]
            + arguments
    }

    /// Every container of the project, running or not (`docker compose ps --all --format json`).
    /// - Throws: `UserError` when compose fails or prints what cannot be read.
    public func containers(_ runner: any CommandRunner) async throws(UserError) -> [ComposeContainer] {
        let result = try await runner.run(command(["ps", "--all", "--format", "json"]), timeout: .seconds(60))
        guard result.status == 0 else {
            throw UserError(
                "`docker compose ps` failed (\(result.timedOut ? "timed out" : "exit \(result.status)")): \(result.stderr.lastLines(3))",
                remedy: "Check that the Docker engine runs (`docker info`) and that \(composeFile) exists.")
        }
        return try ComposeContainer.parse(result.stdout)
    }
}
