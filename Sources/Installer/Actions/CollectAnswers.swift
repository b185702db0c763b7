import Render
import SBSCore
import StepGraph
import Wizard

/// `collect-answers`: keeps the answers of this install in `<root>/etc/sbs/answers.yaml` (literal secrets left
/// out) and the secrets they give (API keys, passwords; resolved from env:/file:) in `secrets.env` (0600), so
/// that `sbs resume`, `sbs answers export` and a later re-run start from them. The questions themselves are
/// asked before any step runs, so that nothing changes before the summary is confirmed.
struct CollectAnswers: InstallAction {
    func inputs(_ context: InstallContext, facts: [String: String]) throws -> [String: String] {
        var inputs = context.answers.facts
        for (variable, value) in try answerSecretValues(context.answers, environment: context.environment) {
            inputs["secret.\(variable)"] = try context.secretDigest(value)
        }
        return inputs
    }

    func run(_ context: InstallContext, facts: [String: String], log: StepLog) async throws -> [String: String] {
        try AtomicFile.write(AnswersFile.render(context.answers), to: context.layout.answersFile, mode: 0o600)
        let secrets = SecretsFile(path: context.layout.secretsFile)
        for (variable, value) in try answerSecretValues(context.answers, environment: context.environment) {
            try secrets.set(try Render.SecretName(variable), to: value)
        }
        log.info("answers kept in \(context.layout.answersFile)")
        return [:]
    }
}
