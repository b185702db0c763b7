import Deploy
import Host
import SBSCore
import StepGraph
import Wizard

/// What start-proxy and start-stack share: the compose project and its profiles, and where images come from
/// (the engine, `images.archive`, or a registry with the answers' credentials).
struct StackSource: Codable, Hashable, Sendable {
    var project: ComposeProject
    var profiles: [String]
    /// answers `images.archive`: load missing images from it instead of pulling.
    var imagesArchive: String?
    /// answers `registry`: pull with these credentials.
    var registry: RegistryAccess?

    init(_ context: InstallInputs, needs: NeededOutputs) throws {
        project = context.project
        profiles = try needs.output(of: ChooseProfile.self).composeProfiles
        imagesArchive = context.answers.imagesArchive
        registry = try RegistryAccess(context)
    }

    func driver(_ tools: InstallTools, log: StepLog) -> ComposeDriver {
        ComposeDriver(project: project, runner: tools.commands, profiles: profiles) { log.progress($0) }
    }

    /// Every image of the stack present on the engine (see `ComposeDriver.ensureImages`).
    func ensureImages(_ driver: ComposeDriver, tools: InstallTools) async throws {
        try await driver.ensureImages(
            try await driver.images(), archive: imagesArchive, registry: try registry?.login(tools))
    }
}

/// Answers `registry` as a step Input holds it: the password by its keyed digest only; `login` reads the value
/// (checked against the digest) when the step runs.
struct RegistryAccess: Codable, Hashable, Sendable {
    var server: String
    var user: String
    var password: KeyedDigest
    /// Where the client config with the credentials goes (`/etc/sbs/docker`).
    var configDirectory: String

    init?(_ context: InstallInputs) throws(UserError) {
        guard let server = context.answers.registryServer, let user = context.answers.registryUser,
            let digest = try context.secretDigest(.registryPassword)
        else { return nil }
        self.server = server.value
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
