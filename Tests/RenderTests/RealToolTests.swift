import Foundation
import Host
import SBSCore
import TestSupport
import Testing

@testable import Render

/// The rendered files checked by the real tools: `nginx -t` and `docker compose config`.
@Suite("Rendered configs accepted by the real tools")
struct RealToolTests {
    /// nginx inside the stack reads the certificate from /etc/nginx/ssl and serves /var/www/acme; on the test host
    /// those paths are mapped into a temporary folder with a throw-away certificate made by openssl. `nginx -t`
    /// binds every address it listens on, so the stack's ports (80, 443, 127.0.0.1:8080) are mapped to free loopback
    /// ports: the host's port 80 belongs to the tests that need it (step-ca's HTTP-01 validation, the end-to-end run).
    @Test(
        .requires("needs nginx and openssl (apt-get install nginx openssl)", when: RealTools.nginxAvailable),
        arguments: GoldenCase.allCases)
    func nginxAcceptsBothConfigs(_ golden: GoldenCase) throws {
        let (input, secrets) = try golden.input()
        try nginxAccepts(input, secrets: secrets, label: golden.rawValue)
    }

    /// The longest legal name (253 characters) among 100 names, the most the answers allow: nginx's default
    /// server_names hash takes only short names, so this is what the rendered hash sizes are for.
    @Test(.requires("needs nginx and openssl (apt-get install nginx openssl)", when: RealTools.nginxAvailable))
    func nginxAcceptsTheLongestNamesTheAnswersAllow() throws {
        var (input, secrets) = try GoldenCase.minimumBasic.input()
        func name(_ index: Int) throws -> DomainName {
            let first = String(format: "n%03d", index) + String(repeating: "a", count: 59)
            return try DomainName(
                [
                    first, String(repeating: "b", count: 63), String(repeating: "c", count: 63),
                    String(repeating: "d", count: 61),
                ].joined(separator: "."))
        }
        input.domain = try name(0)
        input.aliases = try (1..<100).map(name)
        #expect(input.domain.value.utf8.count == 253)
        #expect(input.allNames.count == 100)
        try nginxAccepts(input, secrets: secrets, label: "longest names")
        // A 47-character name, as a user first met the limit with.
        input.domain = try DomainName(String(repeating: "s", count: 35) + ".example.com")
        input.aliases = []
        try nginxAccepts(input, secrets: secrets, label: "47 characters")
    }

    func nginxAccepts(_ input: RenderInput, secrets: Secrets, label: String) throws {
        let files = try ConfigRenderer.render(input, secrets: secrets, templates: Repository.templates())
        let dir = try TemporaryDirectory()
        let live = dir.path + "/ssl/live/\(input.domain.value)"
        try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
        let names = input.allNames.map { "DNS:\($0.value)" }.joined(separator: ",")
        let openssl = RealTools.run([
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-days", "1", "-subj", "/CN=sbs-test", "-addext", "subjectAltName=\(names)",
            "-keyout", live + "/privkey.pem", "-out", live + "/fullchain.pem",
        ])
        #expect(openssl.status == 0, "\(openssl.output)")
        for name in ["nginx/nginx.conf", "nginx/bootstrap.conf"] {
            let file = try #require(files.first { $0.relativePath == name })
            let mapped = try Self.onFreePorts(
                file.text
                    .replacingOccurrences(of: "/etc/nginx/ssl/", with: dir.path + "/ssl/")
                    .replacingOccurrences(of: "/var/run/nginx.pid", with: dir.path + "/nginx.pid"))
            let path = dir.path + "/" + (name as NSString).lastPathComponent
            try mapped.write(toFile: path, atomically: true, encoding: .utf8)
            let result = RealTools.run([RealTools.nginx, "-t", "-q", "-p", dir.path, "-c", path])
            #expect(result.status == 0, "nginx -t rejected \(label)/\(name):\n\(result.output)")
        }
    }

    /// `text` with the address of every `listen` directive replaced by 127.0.0.1 and a free port, the same port for
    /// the same address; each replaced address is checked to be one the stack's nginx is known to listen on.
    static func onFreePorts(_ text: String) throws -> String {
        var ports: [String: Int] = [:]
        var lines: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            guard words.first == "listen", words.count >= 2 else {
                lines.append(String(line))
                continue
            }
            let address = String(words[1].hasSuffix(";") ? words[1].dropLast() : words[1])
            #expect(
                ["80", "443", "127.0.0.1:8080"].contains(address),
                "an nginx listen address the test does not know: \(address)")
            let port = try ports[address] ?? freeLoopbackPort()
            ports[address] = port
            let indent = line.prefix { $0 == " " }
            lines.append(
                String(indent) + "listen 127.0.0.1:\(port)"
                    + (words[1].hasSuffix(";") ? ";" : " " + words.dropFirst(2).joined(separator: " ")))
        }
        #expect(ports.keys.contains("80"), "no listen directive for port 80 was found to map")
        return lines.joined(separator: "\n")
    }

    struct ComposeCase: CustomTestStringConvertible, Sendable {
        var profile: ProfileName
        var gpu: Bool
        var monitoring: Bool
        var tlsFiles: Bool
        var testDescription: String {
            "\(profile.rawValue) gpu=\(gpu) monitoring=\(monitoring) tls=\(tlsFiles ? "files" : "acme")"
        }
    }

    static let composeCases: [ComposeCase] = ProfileName.allCases.flatMap { profile in
        [false, true].flatMap { gpu in
            [false, true].map { monitoring in
                ComposeCase(profile: profile, gpu: gpu, monitoring: monitoring, tlsFiles: gpu && !monitoring)
            }
        }
    }

    @Test(
        .requires("needs docker compose (scripts/test/setup-compose.sh)", when: RealTools.composeAvailable),
        arguments: composeCases)
    func composeAcceptsEveryProfileAndFeatureCombination(_ combination: ComposeCase) throws {
        let memory = [ProfileName.minimum: 15872, .recommended: 32000, .optimal: 64256][combination.profile] ?? 15872
        let hostFacts = facts(memoryMiB: memory, cpus: 8, gpuMiB: combination.gpu ? 24564 : nil)
        let request = ProfileChoiceRequest(
            profile: .named(combination.profile), gpu: combination.gpu ? .on : .off,
            monitoring: combination.monitoring ? .on : .off)
        let profile = try Repository.profileTable().choose(for: hostFacts, request: request)
        let tls: TLSSource =
            combination.tlsFiles
            ? .files(
                certificate: try SafeToken("/srv/certs/fullchain.pem"), key: try SafeToken("/srv/certs/privkey.pem"))
            : .acme(directory: try SafeToken("/etc/sbs/ssl"))
        let input = try makeInput(profile: profile, aliases: ["www.shop.example.com"], tls: tls, backups: true)
        let files = try ConfigRenderer.render(
            input,
            secrets: fixedSecrets(extra: [(.anthropicAPIKey, "sk-ant-$notvar"), (.openaiAPIKey, "sk-proj-#x $notvar")]),
            templates: Repository.templates())
        let dir = try TemporaryDirectory()
        _ = try ConfigWriter(deployDirectory: dir.path, backupDirectory: dir.path + "/.backups").write(files)

        // As the stack will start: COMPOSE_PROFILES from .env.
        let quiet = RealTools.run(["docker", "compose", "config", "--quiet"], in: dir.path)
        #expect(quiet.status == 0, "docker compose config rejected \(combination.testDescription):\n\(quiet.output)")
        let services = RealTools.run(["docker", "compose", "config", "--services"], in: dir.path)
        var expected: Set<String> = ["app-db", "app-auth", "app-kong", "app-api", "app-web", "nginx"]
        if profile.runsOllama { expected.insert("ollama") }
        if profile.monitoringEnabled {
            expected.formUnion(StackService.allCases.filter(\.isMonitoring).map(\.rawValue))
        }
        #expect(Set(services.output.split(separator: "\n").map(String.init)) == expected)

        // Every service, every profile on: check the whole file's shape.
        let all = RealTools.run(
            [
                "docker", "compose", "--profile", "ollama", "--profile", "gpu", "--profile", "monitoring",
                "--profile", "grafana", "config", "--format", "json",
            ], in: dir.path)
        #expect(all.status == 0, "\(all.output)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(all.output.utf8)) as? [String: Any])
        let definitions = try #require(json["services"] as? [String: [String: Any]])
        // Every service but the pooler, which runs on a swarm only.
        #expect(Set(definitions.keys) == Set(StackService.allCases.filter { $0 != .appPooler }.map(\.rawValue)))
        for (name, service) in definitions {
            #expect((service["ports"] != nil) == (name == "nginx"), "\(name) must not publish ports")
            #expect(service["healthcheck"] != nil, "\(name) has no healthcheck")
            #expect(service["restart"] as? String == "unless-stopped")
            let logging = service["logging"] as? [String: Any]
            #expect((logging?["options"] as? [String: Any])?["max-size"] as? String == "10m")
            let limits =
                ((service["deploy"] as? [String: Any])?["resources"] as? [String: Any])?["limits"] as? [String: Any]
            #expect(limits?["memory"] != nil, "\(name) has no memory limit")
            for (_, dependency) in service["depends_on"] as? [String: [String: Any]] ?? [:] {
                #expect(dependency["condition"] as? String == "service_healthy")
            }
        }
        let db = try #require(definitions["app-db"])
        #expect((db["networks"] as? [String: Any])?.keys.sorted() == ["backend"])
        let ollama = try #require(definitions["ollama"])
        let reservations = ((ollama["deploy"] as? [String: Any])?["resources"] as? [String: Any])?["reservations"]
        #expect((reservations != nil) == profile.gpu)
        let api = try #require(definitions["app-api"])
        // Compose's own reading of .env and the interpolation (it writes a literal `$` back as `$$`).
        #expect((api["environment"] as? [String: Any])?["ANTHROPIC_API_KEY"] as? String == "sk-ant-$$notvar")
        #expect((api["environment"] as? [String: Any])?["OPENAI_API_KEY"] as? String == "sk-proj-#x $$notvar")
        #expect(!all.output.contains("certbot"))
    }

    @Test(.requires("needs docker compose (scripts/test/setup-compose.sh)", when: RealTools.composeAvailable))
    func composeConfigNeedsNoEngine() throws {
        // Pointing DOCKER_HOST at nothing proves `config` never talks to an engine.
        let (input, secrets) = try GoldenCase.minimumBasic.input()
        let dir = try TemporaryDirectory()
        _ = try ConfigWriter(deployDirectory: dir.path, backupDirectory: dir.path + "/.b").write(
            try ConfigRenderer.render(input, secrets: secrets, templates: Repository.templates()))
        let result = RealTools.run(
            ["env", "DOCKER_HOST=unix:///nonexistent.sock", "docker", "compose", "config", "--quiet"], in: dir.path)
        #expect(result.status == 0, "\(result.output)")
    }
}
