import FoundationEssentials
import Glibc
import SBSCore

/// Credentials for a private registry (answers `registry`). sbs does what `docker login` does, without a process
/// seeing the password: it writes them as docker's client config stores them (`{"auths": {SERVER: {"auth":
/// base64(user:password)}}}`) into a folder of its own (`/etc/sbs/docker`, 0700, the file 0600), and pulls with
/// `DOCKER_CONFIG` naming that folder. The password is never in an argv or an environment, and the login of the
/// user running sbs (`~/.docker`) is neither used nor changed.
public struct RegistryLogin: Sendable {
    public var server: String
    public var user: String
    public var password: String
    public var configDirectory: String

    public init(server: String, user: String, password: String, configDirectory: String) {
        self.server = server
        self.user = user
        self.password = password
        self.configDirectory = configDirectory
    }

    /// docker's client config (`config.json`), as far as sbs writes it.
    struct ClientConfig: Codable, Equatable {
        struct Credentials: Codable, Equatable { var auth: String }
        var auths: [String: Credentials]
    }

    /// The client config: the credentials for `server` only.
    public var configJSON: String {
        let auth = Data((user + ":" + password).utf8).base64EncodedString()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // A dictionary of strings always encodes.
        guard let bytes = try? encoder.encode(ClientConfig(auths: [server: .init(auth: auth)])) else {
            preconditionFailure("JSONEncoder refused a dictionary of strings")
        }
        return String(decoding: bytes, as: UTF8.self) + "\n"
    }

    /// Writes `configDirectory/config.json` (0600) atomically; the folder is made 0700.
    public func writeConfig() throws(UserError) {
        try AtomicFile.makeDirectories(configDirectory)
        guard chmod(configDirectory, 0o700) == 0 else {
            throw UserError("Cannot restrict \(configDirectory) to its owner: \(String(cString: strerror(errno))).")
        }
        try AtomicFile.write(configJSON, to: configDirectory + "/config.json", mode: 0o600)
    }
}
