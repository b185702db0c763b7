import Crypto
import SBSCore
import YAML

/// The Docker secrets and configs of a swarm stack (answers `target: swarm`). Both are immutable in a swarm, so
/// each name ends in a digest of its content: a changed value is a new object, the stack file names it, and
/// `docker stack deploy` updates exactly the services that use it. The digest is an HMAC keyed from JWT_SECRET,
/// so a name tells nothing about a secret's value to whoever can list them.
public struct SwarmObjects: Sendable {
    /// The stack's name (`sbs`, or `sbs-…` under another root): every object's name starts with it.
    public let project: String
    private let key: [UInt8]

    /// - Throws: `UserError` when JWT_SECRET is missing (generate-secrets runs first).
    public init(project: String, secrets: Secrets) throws(UserError) {
        guard let jwt = secrets[.jwtSecret] else {
            throw UserError("The secret JWT_SECRET is missing.", remedy: "Run the generate-secrets step first.")
        }
        self.project = project
        key = Array(SHA256.hash(data: Array("sbs swarm object names\u{0}\(jwt)".utf8)))
    }

    /// The Docker secret holding the value of `name` (`sbs_POSTGRES_PASSWORD_1a2b3c4d5e6f`).
    public func secret(_ name: SecretName, value: String) -> String {
        "\(project)_\(name.value)_\(digest(Array(name.value.utf8) + [0] + Array(value.utf8)))"
    }

    /// The Docker config (or secret) made from the deploy folder's file `path` (`sbs_nginx.conf_1a2b3c4d5e6f`):
    /// at most 30 characters of its file name, so that the name stays within Docker's 64.
    public func file(_ path: String, bytes: [UInt8]) -> String {
        let base = String(path.split(separator: "/").last ?? Substring(path)).suffix(30)
        return "\(project)_\(base)_\(digest(Array(path.utf8) + [0] + bytes))"
    }

    /// The stack file's key of the deploy folder's file `path` (`monitoring/prometheus/alerts.yml` →
    /// `monitoring_prometheus_alerts.yml`).
    public static func key(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).joined(separator: "_")
    }

    private func digest(_ bytes: [UInt8]) -> String {
        String(HMAC<SHA256>.authenticationCode(for: bytes, using: SymmetricKey(data: key)).hex.prefix(12))
    }

    /// A Docker secret or config a stack file declares (top-level `secrets:` and `configs:`).
    public struct Declared: Sendable, Equatable {
        /// The stack file's key (`POSTGRES_PASSWORD`, `nginx_nginx.conf`).
        public var key: String
        /// The swarm's name of it.
        public var name: String
        /// Made by sbs (`external: true`), not by `docker stack deploy` from a file.
        public var external: Bool
    }

    /// The secrets and configs `stackFile` (a rendered docker-stack.yml) declares: what start-stack makes and keeps.
    /// - Throws: `UserError` when the file does not parse or an entry has no name.
    public static func declared(in stackFile: String) throws(UserError) -> (secrets: [Declared], configs: [Declared]) {
        let root: YAMLNode?
        do { root = try YAMLNode.parse(stackFile) } catch {
            throw UserError(
                "docker-stack.yml does not parse: \(error)",
                remedy: "Run `sbs install --from write-configs` to write it again.")
        }
        func entries(_ section: String) throws(UserError) -> [Declared] {
            guard case .mapping(let top)? = root, case .mapping(let objects)? = top[section] else { return [] }
            var result: [Declared] = []
            for (keyNode, value) in objects {
                guard let key = keyNode.string, case .mapping(let fields) = value, let name = fields["name"]?.string
                else {
                    throw UserError(
                        "docker-stack.yml declares a \(section.dropLast()) without a name.",
                        remedy: "Run `sbs install --from write-configs` to write it again.")
                }
                result.append(Declared(key: key, name: name, external: fields["external"]?.string == "true"))
            }
            return result
        }
        return (try entries("secrets"), try entries("configs"))
    }
}
