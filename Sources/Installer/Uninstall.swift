import Deploy
import FoundationEssentials
import Glibc
import Host
import Processes
import SBSCore
import Wizard

/// `sbs uninstall`: the stack's containers and networks removed, the timers stopped and their units removed; the
/// data kept (the database volume, `/etc/sbs` with the secrets and certificates, `/var/lib/sbs`, the deploy folder)
/// unless `purge`, which removes those too. The backup repository is never removed.
public struct Uninstall: Sendable {
    public var session: InstallSession
    public var purge: Bool

    public init(session: InstallSession, purge: Bool) {
        self.session = session
        self.purge = purge
    }

    /// What uninstall would remove, for the confirmation: the installation's project and kept answers.
    public struct Target: Sendable {
        public var project: ComposeProject
        public var answers: Answers?
        /// The domain to type as confirmation of `--purge`.
        public var domain: String { answers?.domain?.value ?? project.name }
    }

    /// The installation under the root.
    /// - Throws: `UserError` when there is none.
    public func target() throws -> Target {
        let layout = session.layout
        let answers = try session.savedAnswers()
        let project = InstallInputs.project(layout: layout, answers: answers)
        guard answers != nil || AtomicFile.exists(project.directory) || AtomicFile.exists(layout.stateDir) else {
            throw UserError(
                "There is no installation under \(layout.root) (no answers, deploy folder or state).",
                remedy: "Name the installation's root with --root.")
        }
        return Target(project: project, answers: answers)
    }

    /// - Returns: what was done and what was kept, one line each.
    public func run(_ target: Target) async throws -> [String] {
        let layout = session.layout
        let commands = session.commands
        let project = target.project
        var lines: [String] = []

        if project.target == .swarm {
            try await SwarmStack(project: project, runner: commands, progress: { _ in }).remove(volumes: purge)
            lines.append(
                "removed the services, networks, Docker secrets and configs of stack \(project.name)\(purge ? ", and its volumes on this node" : ""); the swarm stays (`docker swarm leave` on each node ends it)"
            )
        } else {
            let down =
                (AtomicFile.exists(project.composeFile)
                    ? project.command(["down", "--remove-orphans"])
                    : ["docker", "compose", "--project-name", project.name, "down", "--remove-orphans"])
                + (purge ? ["--volumes"] : [])
            let stopped = try await commands.run(down, timeout: .seconds(600))
            if stopped.status == 127 {
                lines.append("docker is not installed: there were no containers to remove")
            } else if stopped.status != 0 {
                throw UserError(
                    "`docker compose down` failed (exit \(stopped.status)): \(stopped.stderr.lastLines(3))",
                    remedy: "Check the Docker engine (`docker info`), then run `sbs uninstall` again.")
            } else {
                lines.append(
                    "removed the containers and networks of compose project \(project.name)\(purge ? ", and its volumes" : "")"
                )
            }
        }

        let unitDirectory = layout.resolve(SystemdUnits.directory)
        let units = SystemdUnits.allNames.filter { AtomicFile.exists(unitDirectory + "/" + $0) }
        let manage = layout.root == "/" && Sysroot(session.sysroot).exists("/run/systemd/system")
        let timers = units.filter { $0.hasSuffix(".timer") }
        if manage && !timers.isEmpty {
            let disabled = try await commands.run(["systemctl", "disable", "--now"] + timers, timeout: .seconds(120))
            guard disabled.status == 0 else {
                throw UserError(
                    "`systemctl disable --now \(timers.joined(separator: " "))` failed: \(disabled.stderr.lastLines(3))",
                    remedy: "Check `systemctl status`, then run `sbs uninstall` again.")
            }
        }
        for name in units {
            for path in [unitDirectory + "/" + name, unitDirectory + "/timers.target.wants/" + name]
            where unlink(path) != 0 && errno != ENOENT {
                throw AtomicFile.systemError("unlink", path)
            }
        }
        if manage && !units.isEmpty {
            _ = try await commands.run(["systemctl", "daemon-reload"], timeout: .seconds(120))
        }
        if !units.isEmpty { lines.append("removed the timers and units \(units.joined(separator: ", "))") }

        let repository = (target.answers?.backupRepository ?? .onThisServer)
        let repositoryPath = repository.kind == .local ? repository.location(in: layout) : nil
        if purge {
            for folder in [project.directory, layout.etcDir, layout.logDir, layout.stateDir]
            where AtomicFile.exists(folder) {
                if let repositoryPath, repositoryPath == folder || repositoryPath.hasPrefix(folder + "/") {
                    lines.append("kept \(folder): it holds the backup repository \(repositoryPath)")
                    continue
                }
                do { try FileManager.default.removeItem(atPath: folder) } catch {
                    throw UserError("\(folder) could not be removed: \(error)", remedy: "Remove it by hand.")
                }
                lines.append("removed \(folder)")
            }
            lines.append(
                "kept the backups in \(repository.location(in: layout)): remove them by hand if they are no longer wanted"
            )
        } else {
            lines.append(
                "kept: the database volume \(project.volume("postgres_data")), \(layout.etcDir) (answers, secrets, certificates), \(layout.stateDir), \(project.directory) and the backups in \(repository.location(in: layout))"
            )
            lines.append(
                "`sbs install\(layout.root == "/" ? "" : " --root \(layout.root)")` brings the stack back as it was; `sbs uninstall --purge` removes what was kept except the backups"
            )
        }
        return lines
    }
}
