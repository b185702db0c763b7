import Render
import SBSCore
import StepGraph
import Wizard

/// `collect-answers`: keeps the answers of this install in `<root>/etc/sbs/answers.yaml` (0600), each literal
/// secret written as `stored` and its value kept in `secrets.env` (0600), so that `sbs resume`, `sbs plan`,
/// `sbs answers export` and a later `sbs install --answers` read them back. The questions are asked before any
/// step runs, so that nothing changes before the summary is confirmed. (`generate-secrets` owns `secrets.env` as
/// a whole; the answers' secrets are written here too so that the kept answers never name a value not kept.)
struct CollectAnswers: StepAction {
    static let name = "collect-answers"
    let tools: InstallTools

    struct Input: Codable, Hashable, Sendable {
        var answersFile: String
        /// Exactly what is written: `AnswersFile.render` of the answers with literals as `stored`.
        var answersText: String
        var secretsFile: String
        var secrets: [String: KeyedDigest]
    }

    func input(_ context: InstallInputs, needs: NeededOutputs) throws -> Input {
        Input(
            answersFile: context.layout.answersFile, answersText: AnswersFile.render(context.answers.storingLiterals),
            secretsFile: context.layout.secretsFile, secrets: try context.answerSecretDigests())
    }

    func run(_ input: Input, log: StepLog) async throws -> StepResult<Nothing> {
        let secrets = SecretsFile(path: input.secretsFile)
        for (name, value) in try tools.verifiedSecrets(input.secrets).sorted(by: { $0.key < $1.key }) {
            try secrets.set(name, to: value)
        }
        try AtomicFile.write(input.answersText, to: input.answersFile, mode: 0o600)
        log.info("answers kept in \(input.answersFile)")
        return StepResult(products: [ProductFile(input.answersFile)])
    }
}
