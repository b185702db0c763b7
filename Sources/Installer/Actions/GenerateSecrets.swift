import Render
import SBSCore
import StepGraph

/// `generate-secrets`: database password, JWT secret, Supabase anon/service keys, Grafana password — each only
/// when absent. Nothing here ever replaces a secret that exists.
struct GenerateSecrets: InstallAction {
    func inputs(_ context: InstallContext, facts: [String: String]) throws -> [String: String] {
        // Runs again only when a generated secret went missing (secrets.env deleted or edited).
        let present = (try? SecretsFile(path: context.layout.secretsFile).load()) ?? Secrets()
        return Dictionary(uniqueKeysWithValues: Render.SecretName.generated.map { ("present.\($0.value)", present.contains($0) ? "yes" : "no") })
    }

    func run(_ context: InstallContext, facts: [String: String], log: StepLog) async throws -> [String: String] {
        let (secrets, generated) = try SecretsFile(path: context.layout.secretsFile).generateMissing()
        for value in secrets.allValues { log.runLog.addSecret(value) }
        log.progress(generated.isEmpty ? "all secrets were already there; none replaced"
                                       : "generated \(generated.map(\.value).joined(separator: ", ")) in \(context.layout.secretsFile) (0600)")
        return [:]
    }
}
