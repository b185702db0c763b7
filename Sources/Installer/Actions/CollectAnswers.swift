import SBSCore
import StepGraph
import Wizard

/// `collect-answers`: keeps the answers of this install in `<root>/etc/sbs/answers.yaml` (literal secrets left
/// out) so that `sbs resume`, `sbs answers export` and a later re-run start from them. The questions themselves
/// are asked before any step runs, so that nothing changes before the summary is confirmed.
struct CollectAnswers: InstallAction {
    func inputs(_ context: InstallContext, facts: [String: String]) throws -> [String: String] {
        var inputs = context.answers.facts
        for (name, source) in context.answers.secrets {
            if let reference = source.reference { inputs["secrets.\(name.rawValue)"] = reference }
            else if case .literal(let value) = source { inputs["secrets.\(name.rawValue)"] = try context.secretDigest(value) }
        }
        return inputs
    }

    func run(_ context: InstallContext, facts: [String: String], log: StepLog) async throws -> [String: String] {
        let text = AnswersFile.render(context.answers)
        try AtomicFile.write(text, to: context.layout.answersFile, mode: 0o600)
        log.info("answers kept in \(context.layout.answersFile)")
        return [:]
    }
}
