import Foundation
import Host
import Render
import SBSCore
import Testing
import Wizard

enum Repository {
    static var root: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    static func templates() throws -> TemplateSet { try TemplateSet.load(assetsRoot: root) }

    static func profileTable() throws -> ProfileTable {
        try ProfileTable(yaml: String(contentsOfFile: root + "/assets/profiles.yaml", encoding: .utf8))
    }
}

func fileMode(_ path: String) -> Int {
    var info = stat()
    return stat(path, &info) == 0 ? Int(info.st_mode & 0o7777) : -1
}

/// The real tools the rendered files are checked with (nginx, openssl, docker compose); the tests that need one
/// are gated with `.requires(_:when:)` (TestSupport's Integration).
enum RealTools {
    static func run(_ argv: [String], in directory: String? = nil) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return (127, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static let nginxAvailable: Bool = {
        let paths = ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        return paths.contains { FileManager.default.isExecutableFile(atPath: $0) } && opensslAvailable
    }()
    static let opensslAvailable: Bool = run(["openssl", "version"]).status == 0
    static let composeAvailable: Bool = run(["docker", "compose", "version"]).status == 0
    static let dockerAvailable: Bool = run(["docker", "--version"]).status == 0

    static var nginx: String {
        ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        } ?? "nginx"
    }
}

/// Fixed secrets, so golden files do not change between runs.
func fixedSecrets(extra: [(SecretName, String)] = []) throws -> Secrets {
    let jwtSecret = "test-jwt-secret-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKL"
    return try Secrets(
        [
            (.postgresPassword, "PgPassw0rdForGoldenFiles1234567"),
            (.jwtSecret, jwtSecret),
            (
                .supabaseAnonKey,
                SupabaseJWT.sign(.init(role: "anon", iat: 1_767_225_600, exp: 2_082_585_600), secret: jwtSecret)
            ),
            (
                .supabaseServiceRoleKey,
                SupabaseJWT.sign(.init(role: "service_role", iat: 1_767_225_600, exp: 2_082_585_600), secret: jwtSecret)
            ),
            (.grafanaAdminPassword, "GrafanaGoldenPassw0rd123"),
            (.backupPassword, "BackupGoldenPassw0rd4567890"),
            (.monitoringDBPassword, "MonitorGoldenPassw0rd4567890"),
        ] + extra)
}

func facts(memoryMiB: Int, cpus: Int = 4, gpuMiB: Int? = nil) -> HostFacts {
    let gpu =
        gpuMiB.map {
            GPUFacts(
                vendor: .nvidia, usable: true, name: "Test GPU", memoryMiB: $0, driverVersion: "550", count: 1,
                reason: "test GPU")
        } ?? GPUFacts(vendor: .none, usable: false, reason: "No GPU found.")
    return HostFacts(
        memory: MemoryFacts(totalMiB: memoryMiB, cgroupLimitMiB: nil, limitSource: nil),
        cpu: CPUFacts(online: cpus, affinity: cpus, cgroupQuota: nil), gpu: gpu,
        os: OSFacts(id: "debian", versionID: "12", prettyName: "Debian 12"), architecture: "x86_64",
        docker: DockerFacts(), disk: nil)
}

let defaultImages = try! StackImages { service throws(UserError) in
    try SafeToken(service.defaultImage, what: "image name")
}

func makeInput(
    profile: ResolvedProfile, mode: RenderInput.Mode = .production, domain: String = "shop.example.com",
    aliases: [String] = [], httpsPort: Int = 443, tls: TLSSource? = nil, backups: Bool = false,
    smtp: SMTPSettings? = nil
) throws -> RenderInput {
    try RenderInput(
        mode: mode, domain: DomainName(domain), aliases: aliases.map { try DomainName($0) },
        adminEmail: EmailAddress("admin@example.com"), httpPort: Port(80), httpsPort: Port(httpsPort),
        images: defaultImages, tls: tls ?? .acme(directory: SafeToken("/etc/sbs/ssl")),
        acmeWebroot: SafeToken("/var/lib/sbs/acme-webroot"), profile: profile, backups: backups, smtp: smtp)
}

/// A rendered `.env` read back as Docker Compose reads it, for the forms sbs writes: `NAME='literal'` (everything
/// between the quotes, as is) and `NAME=value` (up to a ` #` comment, trimmed); `#` lines and blank lines are
/// skipped. Written apart from sbs's own `DeployEnvFile`, so that a round trip through it checks the format, not
/// the code that wrote it. Any other line is an error, not a guess.
struct DotEnv {
    struct Malformed: Error, CustomStringConvertible { var description: String }

    private(set) var values: [String: String] = [:]

    init(_ text: String) throws {
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "="),
                line[..<equals].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }),
                equals > line.startIndex
            else { throw Malformed(description: "line \(index + 1) is not NAME=value") }
            let name = String(line[..<equals])
            let raw = line[line.index(after: equals)...]
            let value: String
            if raw.first == "'" {
                guard raw.count >= 2, raw.last == "'", !raw.dropFirst().dropLast().contains("'") else {
                    throw Malformed(description: "line \(index + 1): an unterminated or broken single-quoted value")
                }
                value = String(raw.dropFirst().dropLast())
            } else {
                guard raw.first != "\"" else {
                    throw Malformed(description: "line \(index + 1): double quotes are not a form sbs writes")
                }
                value = String(raw.components(separatedBy: " #")[0]).trimmingCharacters(in: .whitespaces)
            }
            guard values.updateValue(value, forKey: name) == nil else {
                throw Malformed(description: "\(name) is set twice")
            }
        }
    }

    /// A compose value that is one `${NAME}`, `${NAME:-default}` or `${NAME:?message}`, resolved with these values
    /// (as compose does: an empty value counts as unset for `:-` and `:?`).
    func interpolate(_ reference: String) throws -> String {
        guard reference.hasPrefix("${"), reference.hasSuffix("}") else {
            throw Malformed(description: "\(reference) is not one ${…}")
        }
        let inner = reference.dropFirst(2).dropLast()
        for (separator, required) in [(":-", false), (":?", true)] {
            if let range = inner.range(of: separator) {
                let value = values[String(inner[..<range.lowerBound])] ?? ""
                if value.isEmpty && required {
                    throw Malformed(description: "\(reference): unset, compose would refuse to start")
                }
                return value.isEmpty ? String(inner[range.upperBound...]) : value
            }
        }
        guard let value = values[String(inner)] else { throw Malformed(description: "\(reference): unset") }
        return value
    }
}
