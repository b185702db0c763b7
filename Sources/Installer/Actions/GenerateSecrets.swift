import Deploy
import Processes
import Render
import SBSCore
import StepGraph

/// `generate-secrets`: keeps every secret in `secrets.env` (0600): those the answers give (API keys, passwords,
/// the EAB key; a changed one replaces the old), and the database password, JWT secret, Supabase anon/service
/// keys and Grafana password, each generated only when absent. Nothing here replaces a generated secret that
/// exists, and a lost `secrets.env` is recovered from the deploy `.env` (or refused when the database volume
/// exists with nothing to recover from), never filled with new values that would not match the stack.
struct GenerateSecrets: StepAction {
    static let name = "generate-secrets"
    let tools: InstallTools

    struct Input: Codable, Hashable, Sendable {
        var secretsFile: String
        var deployEnvFile: String
        /// The answers' secrets by variable.
        var answerSecrets: [String: KeyedDigest]
        /// The database volume, whose existence means the database was initialised with a password.
        var databaseVolume: String
    }

    struct Output: Codable, Hashable, Sendable {
        /// Every secret in `secrets.env`, in one digest: `write-configs` renders again when one changes.
        var secrets: KeyedDigest
    }

    func input(_ context: InstallInputs, needs: NeededOutputs) throws -> Input {
        Input(
            secretsFile: context.layout.secretsFile, deployEnvFile: context.deployDir + "/.env",
            answerSecrets: try context.answerSecretDigests(), databaseVolume: context.project.volume("postgres_data"))
    }

    func run(_ input: Input, log: StepLog) async throws -> StepResult<Output> {
        let given = try tools.verifiedSecrets(input.answerSecrets)
        let volume = try await tools.commands.run(
            ["docker", "volume", "inspect", input.databaseVolume], timeout: .seconds(20))
        let (secrets, generated, recovered) = try SecretsFile(path: input.secretsFile)
            .ensure(
                given: given, deployEnvPath: input.deployEnvFile,
                databaseVolume: volume.status == 0 ? input.databaseVolume : nil)
        for value in secrets.allValues { log.runLog.addSecret(value) }
        if !recovered.isEmpty {
            log.progress(
                "recovered \(recovered.map(\.value).joined(separator: ", ")) from \(input.deployEnvFile) into \(input.secretsFile): the stack keeps the values it was set up with"
            )
        }
        if !generated.isEmpty || recovered.isEmpty {
            log.progress(
                generated.isEmpty
                    ? "all secrets were already there; none replaced"
                    : "generated \(generated.map(\.value).joined(separator: ", ")) in \(input.secretsFile) (0600)")
        }
        var values: [String: String] = [:]
        for name in secrets.names { values[name.value] = secrets[name] }
        return StepResult(
            Output(secrets: tools.digester.digest(values)), products: [ProductFile(input.secretsFile, secret: true)])
    }
}
