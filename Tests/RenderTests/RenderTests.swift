import Foundation
import Host
import SBSCore
import Testing
import Yams

@testable import Render

/// Named render inputs whose output is kept as golden files under Tests/RenderTests/Golden/NAME/.
enum GoldenCase: String, CaseIterable, Sendable {
    case minimumBasic = "minimum-basic"
    case recommendedCPU = "recommended-cpu"
    case optimalGPUFilesSMTP = "optimal-gpu-files-smtp"
    case developmentSelfSignedPort8443 = "development-self-signed-8443"

    func input() throws -> (RenderInput, Secrets) {
        let table = try Repository.profileTable()
        switch self {
        case .minimumBasic:
            let profile = try table.choose(for: facts(memoryMiB: 15872), request: ProfileChoiceRequest())
            return (try makeInput(profile: profile), try fixedSecrets())
        case .recommendedCPU:
            let profile = try table.choose(for: facts(memoryMiB: 32000, cpus: 8), request: ProfileChoiceRequest())
            return (
                try makeInput(profile: profile, aliases: ["www.shop.example.com"], backups: true),
                try fixedSecrets(extra: [
                    (.anthropicAPIKey, "sk-ant-api03-golden"), (.openaiAPIKey, "sk-proj-golden-openai"),
                ])
            )
        case .optimalGPUFilesSMTP:
            let profile = try table.choose(
                for: facts(memoryMiB: 64256, cpus: 16, gpuMiB: 24564), request: ProfileChoiceRequest())
            let smtp = SMTPSettings(
                host: try DomainName("smtp.example.com"), port: try Port(587), user: try SafeToken("mailer"),
                sender: try EmailAddress("noreply@example.com"))
            var input = try makeInput(
                profile: profile,
                tls: .files(
                    certificate: try SafeToken("/srv/certs/shop.pem"), key: try SafeToken("/srv/certs/shop.key")),
                backups: true, smtp: smtp)
            input.hsts = HSTSPolicy(maxAge: 31_536_000, includeSubdomains: true, preload: true)
            return (input, try fixedSecrets(extra: [(.smtpPassword, "smtp secret with $ and #")]))
        case .developmentSelfSignedPort8443:
            let profile = try table.choose(
                for: facts(memoryMiB: 15872),
                request: ProfileChoiceRequest(profile: .named(.recommended), monitoring: .off))
            return (
                try makeInput(
                    profile: profile, mode: .development, domain: "sbs.lan.example", httpsPort: 8443,
                    tls: .selfSigned(directory: try SafeToken("/srv/sbs/etc/sbs/ssl"))),
                try fixedSecrets()
            )
        }
    }
}

@Suite("Configuration rendering")
struct RenderTests {
    static let goldenRoot = Repository.root + "/Tests/RenderTests/Golden"

    @Test(arguments: GoldenCase.allCases)
    func renderedFilesMatchTheGoldenFiles(_ golden: GoldenCase) throws {
        let (input, secrets) = try golden.input()
        let files = try ConfigRenderer.render(input, secrets: secrets, templates: Repository.templates())
        let folder = Self.goldenRoot + "/" + golden.rawValue
        if ProcessInfo.processInfo.environment["RECORD_GOLDEN"] == "1" {
            try? FileManager.default.removeItem(atPath: folder)
            for file in files {
                let path = folder + "/" + file.relativePath
                try FileManager.default.createDirectory(
                    atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try Data(file.bytes).write(to: URL(fileURLWithPath: path))
            }
            return
        }
        let expectedPaths = try FileManager.default.subpathsOfDirectory(atPath: folder).filter {
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: folder + "/" + $0, isDirectory: &isDirectory)
                && !isDirectory.boolValue
        }.sorted()
        #expect(files.map(\.relativePath) == expectedPaths, "re-record with RECORD_GOLDEN=1 if the change is intended")
        for file in files {
            let expected = FileManager.default.contents(atPath: folder + "/" + file.relativePath).map {
                String(decoding: $0, as: UTF8.self)
            }
            #expect(
                file.text == expected,
                "\(golden.rawValue)/\(file.relativePath) differs from its golden file; re-record with RECORD_GOLDEN=1 if intended"
            )
        }
    }

    @Test func renderingIsDeterministic() throws {
        for golden in GoldenCase.allCases {
            let (input, secrets) = try golden.input()
            let templates = try Repository.templates()
            #expect(
                try ConfigRenderer.render(input, secrets: secrets, templates: templates)
                    == ConfigRenderer.render(input, secrets: secrets, templates: templates))
        }
    }

    @Test func modesAndConditionalFiles() throws {
        let (input, secrets) = try GoldenCase.recommendedCPU.input()
        let files = try ConfigRenderer.render(input, secrets: secrets, templates: Repository.templates())
        let modes = Dictionary(uniqueKeysWithValues: files.map { ($0.relativePath, $0.mode) })
        #expect(modes[".env"] == 0o600)
        #expect(modes["docker-compose.yml"] == 0o644)
        #expect(modes["backup/backup.sh"] == 0o755)
        #expect(modes["monitoring/prometheus/prometheus.yml"] == 0o644)

        let (minimum, minimumSecrets) = try GoldenCase.minimumBasic.input()
        let minimumFiles = try ConfigRenderer.render(
            minimum, secrets: minimumSecrets, templates: Repository.templates()
        ).map(\.relativePath)
        // Basic monitoring: Prometheus and Alertmanager's files, none of Grafana's; no backups.
        #expect(minimumFiles.contains("monitoring/prometheus/alerts.yml"))
        #expect(minimumFiles.contains("monitoring/alertmanager/alertmanager.yml"))
        #expect(!minimumFiles.contains { $0.hasPrefix("monitoring/grafana/") || $0.hasPrefix("backup/") })
        let (development, developmentSecrets) = try GoldenCase.developmentSelfSignedPort8443.input()
        let developmentFiles = try ConfigRenderer.render(
            development, secrets: developmentSecrets, templates: Repository.templates()
        ).map(\.relativePath)
        #expect(!developmentFiles.contains { $0.hasPrefix("monitoring/") }, "monitoring off: \(developmentFiles)")
    }

    @Test(arguments: GoldenCase.allCases)
    func secretsReachOnlyTheEnvFile(_ golden: GoldenCase) throws {
        let (input, secrets) = try golden.input()
        let files = try ConfigRenderer.render(input, secrets: secrets, templates: Repository.templates())
        for file in files where file.relativePath != ".env" {
            for value in secrets.allValues {
                #expect(!file.text.contains(value), "\(file.relativePath) holds a secret")
            }
        }
        let env = try DotEnv(try #require(files.first { $0.relativePath == ".env" }).text)
        for name in secrets.names { #expect(env.values[name.value] == secrets[name], "\(name)") }
        #expect(env.values["COMPOSE_PROFILES"] == input.profile.composeProfiles.joined(separator: ","))
        #expect(env.values["DOMAIN"] == input.domain.value)
    }

    @Test func theAPIServiceReadsTheOpenAIAndAnthropicKeysFromTheEnvFile() throws {
        // Parse both files back, as compose does: app-api's environment names `${VARIABLE…}` and .env gives the value.
        func apiKeys(_ secrets: Secrets) throws -> [String: String] {
            let (input, _) = try GoldenCase.minimumBasic.input()
            let files = try ConfigRenderer.render(input, secrets: secrets, templates: Repository.templates())
            let env = try DotEnv(try #require(files.first { $0.relativePath == ".env" }).text)
            let composeFile = try #require(files.first { $0.relativePath == "docker-compose.yml" })
            let compose = try #require(try Yams.load(yaml: composeFile.text) as? [String: Any])
            let api = try #require((compose["services"] as? [String: Any])?["app-api"] as? [String: Any])
            let environment = try #require(api["environment"] as? [String: Any])
            var result: [String: String] = [:]
            for key in ["OPENAI_API_KEY", "ANTHROPIC_API_KEY"] {
                result[key] = try env.interpolate(try #require(environment[key] as? String, "app-api has no \(key)"))
            }
            return result
        }
        let openai = "sk-proj-A1b2_C3d4-$HOME #not-a-comment {x}"
        let anthropic = "sk-ant-api03-xyz"
        #expect(
            try apiKeys(try fixedSecrets(extra: [(.anthropicAPIKey, anthropic), (.openaiAPIKey, openai)]))
                == ["OPENAI_API_KEY": openai, "ANTHROPIC_API_KEY": anthropic])
        // Without a key, the variable is empty (`${…:-}`), and compose starts the stack without it.
        #expect(try apiKeys(try fixedSecrets()) == ["OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": ""])
    }

    /// The content type each kind of file declares, by the end of its output name.
    static let contentTypes: [(suffix: String, type: ContentType)] = [
        (".yml", .yaml), (".conf", .nginx), (".env", .env), (".ini", .ini), (".sql", .sql), (".sh", .shell),
    ]

    @Test func everyTemplateUnderAssetsDeclaresTheContentTypeOfItsFile() throws {
        let assets = Repository.root + "/assets"
        let paths = try FileManager.default.subpathsOfDirectory(atPath: assets).filter { $0.hasSuffix(".mustache") }
            .sorted()
        // Each is one that sbs renders or includes (and embeds): none is left out silently.
        #expect(paths == ConfigRenderer.templatePaths.map { "deploy/" + $0 })
        // And every other file of assets/deploy/ (its README aside) is one that sbs copies as it is.
        let others = try FileManager.default.subpathsOfDirectory(atPath: assets + "/deploy").filter {
            var isDirectory: ObjCBool = false
            return !$0.hasSuffix(".mustache") && $0 != "README.md"
                && FileManager.default.fileExists(atPath: assets + "/deploy/" + $0, isDirectory: &isDirectory)
                && !isDirectory.boolValue
        }
        #expect(others.sorted() == ConfigRenderer.verbatimPaths)
        for path in paths {
            let output = String(path.dropLast(".mustache".count))
            var library = TemplateLibrary()
            try library.register(String(contentsOfFile: assets + "/" + path, encoding: .utf8), named: output)
            let expected = try #require(
                Self.contentTypes.first { output.hasSuffix($0.suffix) }?.type,
                "\(path): no content type for this kind of file")
            #expect(library.contentType(of: output) == expected, "\(path)")
        }
    }

    @Test(arguments: [ProfileName.minimum, .recommended, .optimal])
    func everyTemplateRendersForEveryProfileAndOption(_ profileName: ProfileName) throws {
        // Every section of every template is reached here, both ways: a name without a value anywhere stops rendering.
        let table = try Repository.profileTable()
        let smtp = SMTPSettings(
            host: try DomainName("smtp.example.com"), port: try Port(587), user: try SafeToken("mailer"),
            sender: try EmailAddress("noreply@example.com"))
        let tlsSources: [TLSSource] = [
            .acme(directory: try SafeToken("/etc/sbs/ssl")), .selfSigned(directory: try SafeToken("/srv/ssl")),
            .files(certificate: try SafeToken("/srv/c.pem"), key: try SafeToken("/srv/k.pem")),
        ]
        var rendered: Set<String> = []
        for gpu in [false, true] {
            for monitoring in [false, true] {
                let request = ProfileChoiceRequest(
                    profile: .named(profileName), gpu: gpu ? .on : .off, monitoring: monitoring ? .on : .off)
                let profile = try table.choose(
                    for: facts(memoryMiB: 64256, cpus: 16, gpuMiB: gpu ? 24564 : nil), request: request)
                for tls in tlsSources {
                    for (mode, smtpSettings, backups, port) in [
                        (RenderInput.Mode.production, smtp, true, 443), (.development, nil, false, 8443),
                    ] {
                        let input = try makeInput(
                            profile: profile, mode: mode, aliases: ["www.shop.example.com"], httpsPort: port, tls: tls,
                            backups: backups, smtp: smtpSettings)
                        let secrets = try fixedSecrets(
                            extra: smtpSettings == nil ? [] : [(.smtpPassword, "smtp-password-1")])
                        let files = try ConfigRenderer.render(
                            input, secrets: secrets, templates: Repository.templates())
                        rendered.formUnion(files.map(\.relativePath))
                        // The same on a swarm whose API runs 1 and 2 tasks (no pooler, then PgBouncer's file).
                        for apiReplicas in [1, 2] {
                            var swarm = input
                            swarm.target = .swarm
                            swarm.swarm.apiReplicas = apiReplicas
                            let stack = try ConfigRenderer.render(
                                swarm, secrets: secrets, templates: Repository.templates())
                            rendered.formUnion(stack.map(\.relativePath))
                        }
                    }
                }
            }
        }
        // Partials (`_name`) are included, never written.
        let outputs = ConfigRenderer.templatePaths.map { String($0.dropLast(".mustache".count)) }.filter {
            !($0.split(separator: "/").last?.hasPrefix("_") ?? false)
        }
        #expect(rendered == Set(outputs + ConfigRenderer.verbatimPaths + [DeployTarget.swarm.stackFile]))
    }

    @Test func aChangedMountedFileChangesOnlyItsServicesDigest() throws {
        // compose recreates a service only when its settings change; the digest label of the files it mounts is
        // what makes a new nginx.conf (and nothing else) recreate nginx (and nothing else).
        func digests(_ files: [RenderedFile]) throws -> [String: String] {
            let compose = try #require(files.first { $0.relativePath == "docker-compose.yml" }).text
            let document = try #require(try Yams.load(yaml: compose) as? [String: Any])
            let services = try #require(document["services"] as? [String: [String: Any]])
            var result: [String: String] = [:]
            for service in ["nginx", "app-kong", "prometheus", "monitoring"] {
                result[service] = (services[service]?["labels"] as? [String: Any])?["sbs.config-digest"] as? String
            }
            return result
        }
        let (input, secrets) = try GoldenCase.recommendedCPU.input()
        let before = try digests(
            try ConfigRenderer.render(input, secrets: secrets, templates: try Repository.templates()))
        #expect(before.count == 4 && before.values.allSatisfy { $0.count == 16 }, "\(before)")
        func digests(changing path: String) throws -> [String: String] {
            var files = try Repository.templates().files
            files[TemplateSet.folder + path]! += "\n"
            return try digests(
                try ConfigRenderer.render(input, secrets: secrets, templates: TemplateSet(files: files)))
        }
        let after = try digests(changing: "nginx/nginx.conf.mustache")
        #expect(after["nginx"] != before["nginx"])
        for service in ["app-kong", "prometheus", "monitoring"] {
            #expect(after[service] == before[service], "\(service)")
        }
        // A dashboard is copied as it is, and Grafana's digest changes with it.
        let dashboard = try digests(changing: "monitoring/grafana/dashboards/host.json")
        #expect(dashboard["monitoring"] != before["monitoring"])
        for service in ["nginx", "app-kong", "prometheus"] {
            #expect(dashboard[service] == before[service], "\(service)")
        }
    }

    @Test func theComposeProjectNameIsCheckedBeforeItReachesTheComposeFile() throws {
        var (input, secrets) = try GoldenCase.minimumBasic.input()
        input.projectName = "sbs-0a1b2c3d"
        let files = try ConfigRenderer.render(input, secrets: secrets, templates: try Repository.templates())
        let compose = try #require(files.first { $0.relativePath == "docker-compose.yml" })
        #expect(compose.text.contains("\nname: sbs-0a1b2c3d\n"))
        // `docker compose` typed by hand in the deploy folder reads .env's COMPOSE_PROJECT_NAME, which wins over
        // the file's `name:`: both must name the same project, or the hand-typed command addresses another stack.
        let env = try #require(files.first { $0.relativePath == ".env" })
        let names = env.text.split(separator: "\n").filter { $0.hasPrefix("COMPOSE_PROJECT_NAME=") }
        #expect(names == ["COMPOSE_PROJECT_NAME=sbs-0a1b2c3d"])
        for hostile in ["", "sbs\nservices: {}", "SBS", "sbs x", "sbs;rm"] {
            input.projectName = hostile
            #expect(throws: UserError.self, "\(hostile.debugDescription)") {
                try ConfigRenderer.render(input, secrets: secrets, templates: try Repository.templates())
            }
        }
    }

    @Test func missingSecretsStopRendering() throws {
        let (input, _) = try GoldenCase.minimumBasic.input()
        #expect(throws: UserError.self) {
            try ConfigRenderer.render(input, secrets: Secrets(), templates: Repository.templates())
        }
        let (smtpInput, _) = try GoldenCase.optimalGPUFilesSMTP.input()
        #expect(throws: UserError.self) {
            try ConfigRenderer.render(smtpInput, secrets: fixedSecrets(), templates: Repository.templates())
        }
        var badPassword = try fixedSecrets()
        try badPassword.set(.postgresPassword, "has@at-sign-password")
        #expect(throws: UserError.self) {
            try ConfigRenderer.render(input, secrets: badPassword, templates: Repository.templates())
        }
    }
}
