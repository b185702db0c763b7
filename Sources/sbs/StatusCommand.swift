import ArgumentParser
import Backups
import Deploy
import FoundationEssentials
import Installer
import Processes
import SBSCore
import StepGraph
import Wizard

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show each step's status, duration, last error and log."
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let session = global.session
        let graph = try session.graph()
        let state = try session.store.load() ?? RunState()
        // Files a finished step wrote that are gone or changed since: the next run writes them again.
        let executor = try session.executor(
            session.readable(((try? session.savedAnswers()) ?? nil) ?? Answers()), createKey: false)
        var drift: [String: [String]] = [:]
        for step in graph.steps where state[step.id].status == .succeeded {
            let found = executor.drift(of: state[step.id])
            if !found.isEmpty { drift[step.id] = found }
        }
        // The last backup `sbs backup` finished (its record; the repository itself is not asked).
        let lastBackup = try? LastBackup.read(LastBackup.path(in: session.layout))
        // A restore that has not finished (`sbs restore` killed, or a step failed after it).
        let restore = (try? PendingRestore.load(in: session.layout)) ?? nil
        // On a swarm: each service's tasks, running and healthy of those wanted, and its last rolling update.
        let saved = (try? session.savedAnswers()) ?? nil
        var services: Result<[SwarmStack.Service], UserError>?
        if let saved, saved.target == .swarm {
            let project = InstallInputs.project(layout: session.layout, answers: saved)
            do {
                services = .success(
                    try await SwarmStack(project: project, runner: SystemCommandRunner(), progress: { _ in })
                        .services())
            } catch { services = .failure(error) }
        }
        if json {
            var steps: [JSONValue] = []
            for step in graph.steps {
                let record = state[step.id]
                var item: [String: JSONValue] = ["id": .string(step.id), "status": .string(record.status.rawValue)]
                if let duration = record.duration { item["duration"] = .number((duration * 1000).rounded() / 1000) }
                if let error = record.lastError { item["last_error"] = .string(error) }
                if let note = record.note { item["note"] = .string(note) }
                if let log = record.log { item["log"] = .string(log) }
                if let files = drift[step.id] { item["drift"] = .array(files.map(JSONValue.string)) }
                steps.append(.object(item))
            }
            var object: [String: JSONValue] = ["steps": .array(steps), "completed": .bool(state.completed)]
            if let log = state.log { object["log"] = .string(log) }
            if let last = lastBackup ?? nil {
                object["last_backup"] = .object([
                    "run": .string(last.manifest.run), "finished": .string(last.finished.formatted(.iso8601)),
                    "bytes": .number(Double(last.manifest.bytes)), "repository": .string(last.repository),
                ])
            }
            if case .success(let list)? = services {
                object["services"] = .array(
                    list.map { service in
                        .object([
                            "name": .string(service.name), "running": .number(Double(service.running)),
                            "desired": .number(Double(service.desired)), "update": .string(service.updateState),
                            "image": .string(service.image),
                        ])
                    })
            }
            if let restore {
                object["restore"] = .object([
                    "run": .string(restore.run), "repository": .string(restore.repository),
                    "files_restored": .bool(restore.filesRestored),
                    "database_restored": .bool(restore.databaseRestored),
                ])
            }
            session.output.out(try JSONValue.object(object).prettyPrinted())
            return
        }
        if let restore {
            session.output.out(
                "A restore of backup \(restore.run) from \(restore.repository) is under way (files \(restore.filesRestored ? "back" : "not back yet"), database \(restore.databaseRestored ? "back" : "not back yet")): \(restore.filesRestored ? "`sbs resume`" : "`sbs restore`") finishes it."
            )
        }
        if state.steps.isEmpty {
            session.output.out("Nothing has run under \(session.layout.root) yet. Start with `sbs install`.")
            return
        }
        session.output.out("STEP                 STATUS      DURATION  LAST ERROR")
        for step in graph.steps {
            let record = state[step.id]
            let duration = record.duration.map { decimal($0) + " s" } ?? "-"
            let error =
                drift[step.id].map { "drift: " + $0.joined(separator: ", ") } ?? record.lastError ?? record.note ?? ""
            session.output.out(
                step.id.padded(to: 21)
                    + record.status.rawValue.padded(to: 12)
                    + duration.padded(to: 10)
                    + String(error.split(separator: "\n").first ?? ""))
        }
        if let log = state.log { session.output.out("\nLog: \(log)") }
        switch services {
        case .success(let list)?:
            session.output.out("\nSERVICE              TASKS  UPDATE               IMAGE")
            for service in list {
                session.output.out(
                    service.name.padded(to: 21) + "\(service.running)/\(service.desired)".padded(to: 7)
                        + (service.updateState.isEmpty ? "-" : service.updateState).padded(to: 21) + service.image)
            }
            if list.isEmpty { session.output.out("(the stack is not deployed)") }
        case .failure(let error)?: session.output.out("\nThe swarm's services could not be read: \(error.message)")
        case nil: break
        }
        if let last = lastBackup ?? nil {
            let hours = Int(Date().timeIntervalSince(last.finished) / 3600)
            session.output.out(
                "Last backup: \(last.manifest.run), \(hours) h ago, \(last.manifest.bytes) bytes, in \(last.repository) (`sbs backup list` shows them all)"
            )
        }
        if !drift.isEmpty {
            session.output.out(
                "Files changed or removed since they were written: `sbs install` (or `sbs resume`) writes them again, backing up what changed."
            )
        }
        session.output.out(
            state.completed ? "The last run finished." : "The last run did not finish: `sbs resume` continues it.")
    }
}

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show the steps in order, what each needs, and what a run would do now."
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, dot }

    @OptionGroup var global: GlobalOptions

    @Option(help: "text, json or dot.")
    var format: Format = .text

    @Option(help: ArgumentHelp("Plan with the answers in FILE (default: those of the last run).", valueName: "FILE"))
    var answers: String?

    @Option(help: ArgumentHelp("Plan a run through STEP.", valueName: "STEP"))
    var through: String?

    @Option(help: ArgumentHelp("Plan a run from STEP.", valueName: "STEP"))
    var from: String?

    @Option(help: ArgumentHelp("Plan a run skipping STEP.", valueName: "STEP"))
    var skip: [String] = []

    func run() async throws {
        let session = global.session
        let loaded = try answers.map { try AnswersFile.load(absolute($0)) } ?? session.savedAnswers()
        // Plans read; they write nothing (no digest key is made, no secret is stored).
        let executor = try session.executor(session.readable(loaded ?? Answers()), createKey: false)
        let scope = RunScope(through: through, from: from, skip: skip)
        try executor.validate(scope)
        let state = try session.store.load() ?? RunState()
        let plan = executor.plan(state: state, scope: scope, baseFacts: loaded?.facts ?? [:])

        func describe(_ decision: Decision) -> (String, String) {
            switch decision {
            case .outOfScope: return ("out-of-scope", "not part of this run")
            case .skip(let reason): return ("skip", reason)
            case .upToDate: return ("up-to-date", "succeeded before with the same inputs")
            case .run(let reason):
                return (
                    "run", loaded == nil && reason.hasPrefix("inputs not known yet") ? "answers not given yet" : reason
                )
            case .runIfChanged(let needs):
                return (
                    "run-if-changed",
                    "runs if \(needs.joined(separator: ", ")) change\(needs.count == 1 ? "s" : "") its outputs"
                )
            }
        }

        switch format {
        case .text:
            for (index, (step, decision)) in plan.enumerated() {
                let (action, reason) = describe(decision)
                let needs = step.needs.isEmpty ? "" : "  needs \(step.needs.joined(separator: ", "))"
                session.output.out(
                    String(index + 1).leftPadded(to: 2) + ". " + step.id.padded(to: 20)
                        + action.padded(to: 15) + reason + needs)
            }
        case .json:
            let steps: [JSONValue] = plan.map { step, decision in
                let (action, reason) = describe(decision)
                var item: [String: JSONValue] = [
                    "id": .string(step.id), "title": .string(step.title),
                    "needs": .array(step.needs.map(JSONValue.string)),
                    "action": .string(step.action), "decision": .string(action), "reason": .string(reason),
                ]
                if let when = step.when { item["when"] = .string(when.description) }
                return .object(item)
            }
            session.output.out(try JSONValue.object(["steps": .array(steps)]).prettyPrinted())
        case .dot:
            session.output.out("digraph sbs {\n  rankdir=LR;")
            for (step, decision) in plan {
                let (action, _) = describe(decision)
                session.output.out("  \"\(step.id)\" [label=\"\(step.id)\\n\(action)\"];")
                for need in step.needs { session.output.out("  \"\(need)\" -> \"\(step.id)\";") }
            }
            session.output.out("}")
        }
    }
}
