import Deploy
import Foundation
import Host
import Processes
import SBSCore
import StepGraph
import TestSupport
import Testing
import Verify
import Wizard

@testable import Installer

/// The verify step: its Input from the answers and the chosen profile, and a run against this host with a
/// fixture `docker` (a script answering only the calls the checks make) and HTTP ports nothing listens on.
@Suite struct VerifyActionTests {
    static func answers(_ edit: (inout Answers) throws -> Void = { _ in }) throws -> Answers {
        var answers = Answers()
        answers.domain = try DomainName("shop.example.com")
        answers.aliases = [try DomainName("www.shop.example.com")]
        try edit(&answers)
        return answers
    }

    static func profile(ollama: Bool, monitoring: Bool) throws -> ResolvedProfile {
        var profile = try ProfileTable(yaml: AssetSnapshot(BundledAssetSource()).text("assets/profiles.yaml"))
            .choose(for: InstallSession.referenceHost, request: ProfileChoiceRequest())
        profile.runsOllama = ollama
        profile.ollamaModels = ollama ? ["llama3.1:8b"] : []
        profile.monitoringEnabled = monitoring
        return profile
    }

    @Test func theTargetFollowsTheAnswersAndTheProfile() throws {
        let layout = Layout(root: "/tmp/sbs-root")
        let acme = try Verify.target(
            try Self.answers(), layout: layout, profile: try Self.profile(ollama: true, monitoring: false))
        #expect(acme.domain == "shop.example.com" && acme.names == ["shop.example.com", "www.shop.example.com"])
        #expect(
            acme.trust == .system && acme.hsts == .standard && acme.httpPort == 80 && acme.httpsPort == 443
                && acme.address == "127.0.0.1")
        #expect(acme.profile == .init(ollamaModels: ["llama3.1:8b"], monitoring: false))
        #expect(
            acme.project
                == ComposeProject(
                    name: ComposeProject.name(forRoot: "/tmp/sbs-root"), directory: "/tmp/sbs-root/opt/sbs"))
        #expect(
            acme.resolve.contains("www.shop.example.com:443:127.0.0.1")
                && acme.resolve.contains("shop.example.com:80:127.0.0.1"))

        let bundle = try Verify.target(
            try Self.answers {
                $0.acmeCABundle = "/etc/private-ca.pem"
                $0.httpsPort = try Port(8443)
                $0.mode = .development
            },
            layout: layout, profile: try Self.profile(ollama: false, monitoring: true))
        #expect(bundle.trust == .bundle("/etc/private-ca.pem") && bundle.hsts == nil && bundle.httpsPort == 8443)
        // The reference host's profile is the minimum one: basic monitoring, without Grafana.
        #expect(bundle.profile == .init(ollamaModels: nil, monitoring: true, grafana: false))

        // The header the answers ask for is the one verify expects.
        let asked = HSTSPolicy(maxAge: 31_536_000, includeSubdomains: true, preload: true)
        let hsts = try Verify.target(try Self.answers { $0.hsts = asked }, layout: layout, profile: nil)
        #expect(hsts.hsts == asked)

        let selfSigned = try Verify.target(try Self.answers { $0.tlsMode = .selfSigned }, layout: layout, profile: nil)
        #expect(
            selfSigned.trust == .installedCertificate("/tmp/sbs-root/etc/sbs/ssl/live/shop.example.com/fullchain.pem"))
        #expect(selfSigned.profile == nil)
        #expect(throws: UserError.self) { try Verify.target(Answers(), layout: layout, profile: nil) }
    }

    @Test func theStepIsRegisteredAndRunsEveryTime() throws {
        let session = InstallSession(
            layout: Layout(root: "/tmp/sbs-verify-\(UUID().uuidString)"), sysroot: nil, assetsDirectory: nil)
        let catalog = try session.actions(session.readable(Answers()), createKey: false).catalog
        #expect(catalog.observing.contains("verify"))
        #expect(catalog.actions["verify"] != nil)
    }

    @Test func aRunWritesTheReportAndFailsWithEachFailedCheckAndItsRemedy() async throws {
        let root = Scratch.path("verify-step")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
        // Ports 1 and 2 on loopback: nothing listens, so every HTTP check fails with "connection refused".
        let layout = Layout(root: root + "/sbs")
        let target = try Verify.target(
            try Self.answers {
                $0.httpPort = try Port(1)
                $0.httpsPort = try Port(2)
            },
            layout: layout, profile: try Self.profile(ollama: false, monitoring: false))
        let prefix = target.project.command([]).dropFirst().joined(separator: " ")
        let docker = """
            #!/bin/sh
            echo "$*" >> "\(root)/calls"
            case "$*" in
              "\(prefix) ps --all --format json")
                echo '{"Service":"app-db","Name":"db-1","State":"running","Health":"healthy","Publishers":[{"URL":"","TargetPort":5432,"PublishedPort":0,"Protocol":"tcp"}]}'
                echo '{"Service":"nginx","Name":"nginx-1","State":"running","Health":"healthy","Publishers":[{"URL":"0.0.0.0","TargetPort":443,"PublishedPort":2,"Protocol":"tcp"}]}' ;;
              "\(prefix) exec -T app-db pg_isready -U postgres -h localhost") echo "localhost:5432 - accepting connections" ;;
              "ps --quiet --no-trunc") printf 'aaa\\nbbb\\n' ;;
              "inspect --type container aaa bbb") cat "\(root)/inspect.json" ;;
              *) echo "unexpected docker call: $*" >&2; exit 2 ;;
            esac
            """
        // Both containers as the engine shows them with their declared privileges; nginx publishes 443 on port 2.
        func inspected(_ service: StackService, ports: String) -> String {
            let row = service.privileges
            let caps = row.capabilityNames.map { "\"CAP_\($0)\"" }.joined(separator: ",")
            return """
                {"Name":"/\(service.rawValue)-1","Config":{"Labels":{"com.docker.compose.project":"\(target.project.name)","com.docker.compose.service":"\(service.rawValue)"}},\
                "HostConfig":{"CapAdd":[\(caps)],"CapDrop":["ALL"],"SecurityOpt":["no-new-privileges:true"],"ReadonlyRootfs":\(row.readOnly),"PidsLimit":\(row.pidsLimit)},\
                "Mounts":[],"NetworkSettings":{"Ports":\(ports)}}
                """
        }
        try
            ("[" + inspected(.appDB, ports: #"{"5432/tcp":null}"#) + ","
            + inspected(.nginx, ports: #"{"443/tcp":[{"HostIp":"0.0.0.0","HostPort":"2"}]}"#) + "]")
            .write(toFile: root + "/inspect.json", atomically: true, encoding: .utf8)
        try docker.write(toFile: root + "/bin/docker", atomically: true, encoding: .utf8)
        chmod(root + "/bin/docker", 0o755)
        let tools = InstallTools(
            commands: SystemCommandRunner(searchPath: [root + "/bin"]), secrets: AnswerSecretValues(),
            digester: try SecretDigester.load(layout, create: true))
        let input = Verify.Input(target: target, reportPath: Verify.reportPath(layout), root: layout.root)

        let error = await #expect(throws: UserError.self) {
            _ = try await Verify(tools: tools).run(
                input, log: StepLog(step: "verify", runLog: try RunLog(path: root + "/verify.log", notice: { _ in })))
        }
        let report = try VerifyReport.decode(
            try #require(try AtomicFile.readText(layout.stateDir + "/verify.json", limit: .state)))
        #expect(report.checks.map(\.id) == StackVerifier.checkIDs)
        #expect(
            report.failures.map(\.id) == Array(StackVerifier.checkIDs.prefix(9)),
            "every HTTP check fails, the Docker ones do not")
        #expect(report["database"]?.detail == "pg_isready: localhost:5432 - accepting connections")
        #expect(
            report["containers"]?.status == .pass && report["published-ports"]?.status == .pass
                && report["privileges"]?.status == .pass)
        #expect(
            report["models"]?.status == .skip && report["grafana"]?.status == .skip
                && report["monitoring-targets"]?.status == .skip && report["alerting"]?.status == .skip)
        let message = try #require(error).message
        #expect(message.hasPrefix("9 of 18 verification checks failed:"))
        for failure in report.failures {
            #expect(
                message.contains("  - \(failure.id): \(failure.detail)\n    → \(failure.remedy ?? "-")"),
                "\(failure.id)")
        }
        #expect(try #require(error).remedy?.contains("sbs verify") == true)
        // The step's results reach the alert rules as `sbs verify`'s do: one sample per check that ran.
        let metrics = try #require(
            try AtomicFile.readText(layout.stateDir + "/metrics/sbs-verify.prom", limit: .state))
        #expect(metrics.contains("sbs_verify_check_passed{check=\"web-app\"} 0\n"), "\(metrics)")
        #expect(metrics.contains("sbs_verify_check_passed{check=\"database\"} 1\n"), "\(metrics)")
        #expect(!metrics.contains("check=\"models\""), "skipped checks are left out: \(metrics)")
        let calls = ((try? String(contentsOfFile: root + "/calls", encoding: .utf8)) ?? "").split(separator: "\n")
        #expect(calls.count == 4, "\(calls)")
    }
}

extension VerifyReport {
    subscript(id: String) -> VerifyCheck? { checks.first { $0.id == id } }
}
