import Deploy
import SBSCore
import Wizard

/// Answers `registry` as a step Input holds it: the password by its keyed digest only; `login` reads the value
/// (checked against the digest) when the step runs.
struct RegistryAccess: Codable, Hashable, Sendable {
    var server: String
    var user: String
    var password: KeyedDigest
    /// Where the client config with the credentials goes (`/etc/sbs/docker`).
    var configDirectory: String

    init?(_ context: InstallInputs) {
        guard let server = context.answers.registryServer, let user = context.answers.registryUser,
              let digest = context.secretDigests[AnswerSecret.registryPassword.variable] else { return nil }
        self.server = server
        self.user = user.value
        self.password = digest
        self.configDirectory = context.layout.etcDir + "/docker"
    }

    func login(_ tools: InstallTools) throws(UserError) -> RegistryLogin {
        guard let value = tools.secrets[.registryPassword], tools.digester.digest(value) == password else {
            throw UserError("Internal error: the registry password is not the one this step was planned with.")
        }
        return RegistryLogin(server: server, user: user, password: value, configDirectory: configDirectory)
    }
}
