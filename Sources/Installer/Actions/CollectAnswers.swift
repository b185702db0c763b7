import SBSCore
import StepGraph
import Wizard

/// `collect-answers`: keeps the answers of this install in `<root>/etc/sbs/answers.yaml` (0600), each literal
/// secret written as `stored` (generate-secrets keeps its value in `secrets.env`), so that `sbs resume`,
/// `sbs plan`, `sbs answers export` and a later `sbs install --answers` read them back. The questions are asked
/// before any step runs, so that nothing changes before the summary is confirmed.
struct CollectAnswers: StepAction {
    static let name = "collect-answers"

    struct Input: Codable, Hashable, Sendable {
        var answersFile: String
        /// Exactly what is written: `AnswersFile.render` of the answers with literals as `stored`.
        var answersText: String
    }

    func input(_ context: InstallInputs, needs: NeededOutputs) throws -> Input {
        Input(answersFile: context.layout.answersFile, answersText: AnswersFile.render(context.answers.storingLiterals))
    }

    func run(_ input: Input, log: StepLog) async throws -> StepResult<Nothing> {
        try AtomicFile.write(input.answersText, to: input.answersFile, mode: 0o600)
        log.info("answers kept in \(input.answersFile)")
        return StepResult(products: [ProductFile(input.answersFile)])
    }
}
