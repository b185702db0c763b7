import ACME
import Deploy
import Foundation
import HTTPClient
import Host
import Processes
import SBSCore
import StepGraph
import TestSupport
import Testing
import Wizard
import X509

@testable import Installer

/// start-proxy, start-stack and pull-models run against a `docker` that plays recorded answers (exact argv, fail
/// closed). Their Inputs are built as the install builds them, from answers and the outputs of the steps they need.
/// The real stack comes up in the end-to-end runs (scripts/test/).
struct StackStepFixture {
    let root: String
    let layout: Layout
    let project: ComposeProject
    let profiles = ["monitoring"]
    static let db = "supabase/postgres:15.1.0.117"
    static let web = "supabase/studio:20240101-ce42139"
    static let nginx = "nginx:1.27.3-alpine"
    static let hashes = ["app-db": "aaa1", "app-web": "bbb2", "nginx": "ccc3"]

    /// The live certificate obtain-certificate left (`cert.pem` in the live folder).
    let live: Certificate

    init() throws {
        root = Scratch.path("stack")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        layout = Layout(root: root)
        project = InstallInputs.project(layout: layout, answers: nil)
        let liveDirectory = layout.root + "/etc/sbs/ssl/live/shop.example.com"
        try FileManager.default.createDirectory(atPath: liveDirectory, withIntermediateDirectories: true)
        let pem = try CertificateTools.makeSelfSigned(domains: ["shop.example.com"]).certificatePEM
        try pem.write(toFile: liveDirectory + "/cert.pem", atomically: true, encoding: .utf8)
        live = try CertificateTools.parseChain(pem, what: "cert.pem")[0]
    }

    var inputs: InstallInputs {
        get throws {
            var answers = Answers()
            answers.domain = try DomainName("shop.example.com")
            return InstallInputs(
                answers: answers, layout: layout, sysroot: root, assets: AssetSnapshot(files: [:]), secretDigests: [:],
                executable: "/usr/local/bin/sbs")
        }
    }

    func needs(ollamaModels: [String] = []) throws -> NeededOutputs {
        var profile = try ProfileTable(yaml: AssetSnapshot(BundledAssetSource()).text("assets/profiles.yaml"))
            .choose(for: InstallSession.referenceHost, request: ProfileChoiceRequest())
        profile.composeProfiles = profiles + (ollamaModels.isEmpty ? [] : ["ollama"])
        profile.ollamaModels = ollamaModels
        return NeededOutputs([
            ChooseProfile.name: (ChooseProfile.name, try JSONValue(encoding: profile)),
            WriteConfigs.name: (
                WriteConfigs.name, try JSONValue(encoding: WriteConfigs.Output(deployDir: project.directory))
            ),
            ObtainCertificate.name: (
                ObtainCertificate.name,
                try JSONValue(
                    encoding: ObtainCertificate.Output(
                        liveDirectory: layout.root + "/etc/sbs/ssl/live/shop.example.com", mode: "acme"))
            ),
            StartStack.name: (
                StartStack.name,
                try JSONValue(encoding: StartStack.Output(services: ["app-db", "app-web", "nginx", "ollama"]))
            ),
        ])
    }

    func tools(_ docker: any CommandRunner) throws -> InstallTools {
        InstallTools(
            commands: docker, secrets: AnswerSecretValues(), digester: try SecretDigester.load(layout, create: true))
    }

    /// `docker compose …` for the stack with its profiles, then `arguments`.
    func compose(_ arguments: String...) -> [String] {
        project.command(profiles.flatMap { ["--profile", $0] } + arguments)
    }

    /// `docker compose ps` as the steps run it: without profiles (it lists every container of the project).
    var ps: [String] { project.command(["ps", "--all", "--format", "json"]) }

    func containers(_ containers: ComposePS.Container...) -> ScriptedRunner.Reply {
        .ok(ComposePS.output(project: project.name, containers))
    }

    static func inspectImage(_ image: String) -> [String] {
        ["docker", "image", "inspect", "--format", "{{.Id}}", "--", image]
    }
    static func present(_ id: String) -> ScriptedRunner.Reply { .ok("sha256:\(id)\n") }
    static func noSuchImage(_ image: String) -> ScriptedRunner.Reply {
        .exit(1, stderr: "Error response from daemon: No such image: \(image)\n", stdout: "\n")
    }

    static func db(_ state: String = "running", health: String = "healthy", hash: String = hashes["app-db"]!)
        -> ComposePS.Container
    {
        ComposePS.Container("app-db", image: db, state: state, health: health, configHash: hash)
    }
    static func web(_ state: String = "running", health: String = "healthy", hash: String = hashes["app-web"]!)
        -> ComposePS.Container
    {
        ComposePS.Container("app-web", image: web, state: state, health: health, configHash: hash)
    }
    static func nginx(_ state: String = "running", health: String = "healthy", hash: String = hashes["nginx"]!)
        -> ComposePS.Container
    {
        ComposePS.Container(
            "nginx", image: nginx, state: state, health: health, configHash: hash,
            ports: [("0.0.0.0", 80, 80), ("0.0.0.0", 443, 443)])
    }
}

/// An HTTPS endpoint that presents `certificates` one after the other, the last one from then on.
final class PresentedCertificates: CertificateProbe, @unchecked Sendable {
    private let lock = NSLock()
    private var remaining: [Certificate]
    private(set) var reads = 0

    init(_ certificates: [Certificate]) { remaining = certificates }

    func presented(at endpoint: HTTPSEndpoint) async -> Result<Certificate, HTTPTransportError> {
        lock.withLock {
            reads += 1
            let next = remaining.count > 1 ? remaining.removeFirst() : remaining[0]
            return .success(next)
        }
    }
}

@Suite struct StartStackRuns {
    typealias F = StackStepFixture
    let f: F
    init() throws { f = try F() }

    var hashes: [String] { f.compose("config", "--hash", "*") }
    var images: [String] { f.compose("config", "--images") }
    var nginxTest: [String] { f.compose("exec", "-T", "nginx", "nginx", "-t", "-c", "/etc/nginx/sbs/nginx.conf") }
    var upApplications: [String] { f.compose("up", "--detach", "--remove-orphans", "app-db", "app-web") }
    var upAll: [String] { f.compose("up", "--detach", "--remove-orphans") }
    static let hashOutput = "app-db aaa1\napp-web bbb2\nnginx ccc3\n"

    func run(_ docker: ScriptedRunner, shown: ShownLines = ShownLines(), presented: [Certificate]? = nil) async throws
        -> StartStack.Output
    {
        var action = StartStack(tools: try f.tools(docker), deadline: .seconds(60))
        action.certificateProbe = PresentedCertificates(presented ?? [f.live])
        action.reloadSettle = .seconds(5)
        return try await action.run(try action.input(try f.inputs, needs: try f.needs()), log: shown.log("start-stack"))
            .output
    }

    @Test func afterTheProxyTheApplicationsComeUpThenNginxIsTestedAndSwitchedToTLS() async throws {
        // start-proxy left nginx running on its bootstrap config (another config hash); nothing else runs yet, and
        // the application's web image is not on the engine.
        let docker = ScriptedRunner([
            hashes: .ok(Self.hashOutput),
            f.ps: f.containers(F.nginx(hash: "0ld0")).repeating,
            images: .ok("\(F.db)\n\(F.nginx)\n\(F.web)\n"),
            F.inspectImage(F.db): F.present("5e7abcd0"),
            F.inspectImage(F.nginx): F.present("9b1e2f30"),
            F.inspectImage(F.web): F.noSuchImage(F.web),
            ["docker", "pull", "--quiet", "--", F.web]: .ok("docker.io/\(F.web)\n"),
            upApplications: .ok(
                stderr:
                    " Container \(f.project.name)-app-db-1  Healthy\n Container \(f.project.name)-app-web-1  Started\n"
            )
            .changing(f.ps, to: f.containers(F.db(), F.web(), F.nginx(hash: "0ld0")).repeating),
            nginxTest: .ok(
                stderr:
                    "nginx: the configuration file /etc/nginx/sbs/nginx.conf syntax is ok\nnginx: configuration file /etc/nginx/sbs/nginx.conf test is successful\n"
            ),
            upAll: .ok(stderr: " Container \(f.project.name)-nginx-1  Recreated\n")
                .changing(f.ps, to: f.containers(F.db(), F.web(), F.nginx()).repeating),
        ])
        let shown = ShownLines()
        let output = try await run(docker, shown: shown)
        #expect(output.services == ["app-db", "app-web", "nginx"])
        #expect(docker.unused.isEmpty)
        #expect(
            docker.calls.filter { $0 != f.ps && !$0.starts(with: ["docker", "image"]) }
                == [hashes, images, ["docker", "pull", "--quiet", "--", F.web], upApplications, nginxTest, upAll])
        #expect(shown.text.contains("starting app-db, app-web"))
        #expect(shown.text.contains("nginx -t accepts the TLS config"))
        #expect(shown.text.contains("all 3 services are running and healthy"), "\(shown.text)")
        #expect(
            shown.text.hasSuffix("nginx serves the live certificate (serial \(f.live.serialNumber))"), "\(shown.text)")
    }

    @Test func aStackUpToDateIsLeftAlone() async throws {
        let docker = ScriptedRunner([
            hashes: .ok(Self.hashOutput),
            f.ps: f.containers(F.db(), F.web(), F.nginx()),
        ])
        let shown = ShownLines()
        #expect(try await run(docker, shown: shown).services == ["app-db", "app-web", "nginx"])
        #expect(docker.calls == [hashes, f.ps])
        #expect(shown.text.contains("nothing to change"))
        #expect(shown.text.contains("nginx serves the live certificate"))
    }

    static func reload(_ f: F) -> [String] {
        f.compose("exec", "-T", "nginx", "nginx", "-c", "/etc/nginx/sbs/nginx.conf", "-s", "reload")
    }

    /// An up-to-date stack whose nginx accepts its config and reloads, and a certificate other than the live one.
    static func upToDateStackToReload(_ f: F) throws -> (old: Certificate, docker: ScriptedRunner) {
        let old = try CertificateTools.parseChain(
            try CertificateTools.makeSelfSigned(domains: ["shop.example.com"]).certificatePEM,
            what: "old")[0]
        let docker = ScriptedRunner([
            f.compose("config", "--hash", "*"): .ok(hashOutput),
            f.ps: f.containers(F.db(), F.web(), F.nginx()).repeating,
            f.compose("exec", "-T", "nginx", "nginx", "-t", "-c", "/etc/nginx/sbs/nginx.conf"): .ok(
                stderr: "nginx: configuration file /etc/nginx/sbs/nginx.conf test is successful\n"),
            reload(f): .ok(),
        ])
        return (old, docker)
    }

    /// A certificate installed while nginx ran (a re-issue, a new CA) changes no configuration: the stack is up to
    /// date, yet nginx serves the old certificate from memory until it reloads.
    @Test func aStackUpToDateThatServesAnOlderCertificateReloadsNginx() async throws {
        let (old, docker) = try Self.upToDateStackToReload(f)
        let shown = ShownLines()
        #expect(
            try await run(docker, shown: shown, presented: [old, f.live]).services == ["app-db", "app-web", "nginx"])
        #expect(docker.calls.filter { $0 != f.ps } == [hashes, nginxTest, Self.reload(f)])
        #expect(shown.text.contains("reloading nginx"))
        #expect(shown.text.contains("nginx reloaded: it serves the live certificate"))
    }

    @Test func nginxStillServingAnotherCertificateAfterItsReloadFailsTheStep() async throws {
        let (old, docker) = try Self.upToDateStackToReload(f)
        let error = await #expect(throws: UserError.self) { try await run(docker, presented: [old]) }
        #expect(
            error?.message.contains("nginx still presents the certificate with serial") == true,
            "\(String(describing: error))")
        #expect(error?.remedy?.contains("restart nginx") == true)
    }

    @Test func aTLSConfigThatFailsNginxTestStopsBeforeNginxIsSwitched() async throws {
        let docker = ScriptedRunner([
            hashes: .ok(Self.hashOutput),
            f.ps: f.containers(F.db(), F.web(), F.nginx(hash: "0ld0")).repeating,
            images: .ok("\(F.db)\n\(F.nginx)\n"),
            F.inspectImage(F.db): F.present("5e7abcd0"),
            F.inspectImage(F.nginx): F.present("9b1e2f30"),
            nginxTest: .exit(
                1,
                stderr: """
                    nginx: [emerg] cannot load certificate "/etc/nginx/ssl/live/shop.example.com/fullchain.pem": BIO_new_file() failed (SSL: error:80000002:system library::No such file or directory)
                    nginx: configuration file /etc/nginx/sbs/nginx.conf test failed

                    """),
        ])
        let error = await #expect(throws: UserError.self) { try await run(docker) }
        let message = try #require(error).message
        #expect(
            message.hasPrefix(
                "The TLS config of nginx does not pass `nginx -t`: nginx: [emerg] cannot load certificate"),
            "\(message)")
        #expect(message.hasSuffix("test failed"), "\(message)")
        #expect(error?.remedy?.contains(f.layout.root + "/etc/sbs/ssl/live/shop.example.com") == true)
        #expect(!docker.calls.contains(upAll), "nginx keeps its running config")
        #expect(!docker.calls.contains(upApplications), "healthy applications are not started again")
    }

    @Test func composeUpFailingIsQuotedWithTheServiceItCouldNotStart() async throws {
        let docker = ScriptedRunner([
            hashes: .ok(Self.hashOutput),
            f.ps: f.containers(F.nginx(hash: "0ld0")).repeating,
            images: .ok("\(F.db)\n\(F.nginx)\n"),
            F.inspectImage(F.db): F.present("5e7abcd0"),
            F.inspectImage(F.nginx): F.present("9b1e2f30"),
            upApplications: .exit(
                1,
                stderr:
                    " Container \(f.project.name)-app-db-1  Error\ndependency failed to start: container \(f.project.name)-app-db-1 is unhealthy\n"
            )
            .changing(
                f.ps,
                to: f.containers(F.db(health: "unhealthy"), F.web("created", health: ""), F.nginx(hash: "0ld0"))
                    .repeating),
            [
                "docker", "inspect", "--format",
                "{{if .State.Health}}{{range .State.Health.Log}}{{.ExitCode}}: {{.Output}}{{end}}{{end}}",
                "\(f.project.name)-app-db-1",
            ]:
                .ok("1: localhost:5432 - no response\n"),
            f.compose("logs", "--no-color", "--tail", "10", "app-db"): .ok(
                "app-db-1  | FATAL:  could not map anonymous shared memory: Cannot allocate memory\n"),
            [
                "docker", "inspect", "--format",
                "{{if .State.Health}}{{range .State.Health.Log}}{{.ExitCode}}: {{.Output}}{{end}}{{end}}",
                "\(f.project.name)-app-web-1",
            ]: .ok(""),
            f.compose("logs", "--no-color", "--tail", "10", "app-web"): .ok(""),
        ])
        let error = await #expect(throws: UserError.self) { try await run(docker) }
        let message = try #require(error).message
        #expect(
            message.hasPrefix(
                "`docker compose up` failed (exit 1): Container \(f.project.name)-app-db-1  Error | dependency failed to start: container \(f.project.name)-app-db-1 is unhealthy"
            ), "\(message)")
        #expect(message.contains("app-db (\(f.project.name)-app-db-1): running, unhealthy"), "\(message)")
        #expect(message.contains("could not map anonymous shared memory"), "\(message)")
        #expect(!docker.calls.contains(nginxTest) && !docker.calls.contains(upAll))
    }

    @Test func aServiceThatTurnsUnhealthyAfterUpFailsTheStep() async throws {
        let docker = ScriptedRunner([
            hashes: .ok(Self.hashOutput),
            f.ps: f.containers(F.nginx(hash: "0ld0")).repeating,
            images: .ok("\(F.db)\n\(F.nginx)\n"),
            F.inspectImage(F.db): F.present("5e7abcd0"),
            F.inspectImage(F.nginx): F.present("9b1e2f30"),
            upApplications: .ok().changing(
                f.ps, to: f.containers(F.db(), F.web(health: "unhealthy"), F.nginx(hash: "0ld0")).repeating),
            [
                "docker", "inspect", "--format",
                "{{if .State.Health}}{{range .State.Health.Log}}{{.ExitCode}}: {{.Output}}{{end}}{{end}}",
                "\(f.project.name)-app-web-1",
            ]:
                .ok("1: wget: server returned error: HTTP/1.1 502 Bad Gateway\n"),
            f.compose("logs", "--no-color", "--tail", "10", "app-web"): .ok(""),
        ])
        let error = await #expect(throws: UserError.self) { try await run(docker) }
        let message = try #require(error).message
        #expect(message.hasPrefix("app-web did not become healthy within 60"), "\(message)")
        #expect(
            message.contains("last healthchecks: 1: wget: server returned error: HTTP/1.1 502 Bad Gateway"),
            "\(message)")
        #expect(!docker.calls.contains(nginxTest) && !docker.calls.contains(upAll))
    }
}

@Suite struct StartProxyRuns {
    typealias F = StackStepFixture
    let f: F
    init() throws { f = try F() }

    var images: [String] { f.compose("config", "--images") }
    var upNginx: [String] {
        ["env", "NGINX_CONF=bootstrap.conf"] + f.compose("up", "--detach", "--remove-orphans", "--no-deps", "nginx")
    }

    func run(_ docker: ScriptedRunner, shown: ShownLines = ShownLines()) async throws {
        let action = StartProxy(tools: try f.tools(docker), deadline: .seconds(60))
        _ = try await action.run(try action.input(try f.inputs, needs: try f.needs()), log: shown.log("start-proxy"))
    }

    @Test func nginxAloneComesUpOnTheBootstrapConfigOnceEveryImageIsPresent() async throws {
        let docker = ScriptedRunner([
            f.ps: f.containers().repeating,
            images: .ok("\(F.db)\n\(F.nginx)\n"),
            F.inspectImage(F.db): F.present("5e7abcd0"),
            F.inspectImage(F.nginx): F.noSuchImage(F.nginx),
            ["docker", "pull", "--quiet", "--", F.nginx]: .ok("docker.io/library/\(F.nginx)\n"),
            upNginx: .ok(stderr: " Container \(f.project.name)-nginx-1  Started\n").changing(
                f.ps, to: f.containers(F.nginx()).repeating),
        ])
        let shown = ShownLines()
        try await run(docker, shown: shown)
        #expect(docker.unused.isEmpty)
        #expect(
            docker.calls.filter { $0 != f.ps && !$0.starts(with: ["docker", "image"]) } == [
                images, ["docker", "pull", "--quiet", "--", F.nginx], upNginx,
            ])
        #expect(shown.text.hasSuffix("nginx serves the ACME webroot"), "\(shown.text)")
    }

    @Test func aRunningNginxIsLeftAsItIs() async throws {
        let docker = ScriptedRunner([f.ps: f.containers(F.db(), F.nginx())])
        let shown = ShownLines()
        try await run(docker, shown: shown)
        #expect(docker.calls == [f.ps])
        #expect(shown.text.contains("nginx already runs (\(f.project.name)-nginx-1, healthy)"), "\(shown.text)")
    }

    @Test func anImageThatCannotBePulledStopsBeforeAnythingStarts() async throws {
        let docker = ScriptedRunner([
            f.ps: f.containers(),
            images: .ok("\(F.db)\n\(F.nginx)\n"),
            F.inspectImage(F.db): F.noSuchImage(F.db),
            F.inspectImage(F.nginx): F.present("9b1e2f30"),
            ["docker", "pull", "--quiet", "--", F.db]: .exit(
                1,
                stderr:
                    "Error response from daemon: Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io on 127.0.0.53:53: server misbehaving\n"
            ),
        ])
        let error = await #expect(throws: UserError.self) { try await run(docker) }
        #expect(
            error?.message.hasPrefix(
                "Pulling \(F.db) failed (exit 1): Error response from daemon: Get \"https://registry-1.docker.io/v2/\"")
                == true, "\(String(describing: error))")
        #expect(!docker.calls.contains(upNginx))
    }

    @Test func port80InUseIsQuotedFromCompose() async throws {
        let docker = ScriptedRunner([
            f.ps: f.containers().repeating,
            images: .ok("\(F.nginx)\n"),
            F.inspectImage(F.nginx): F.present("9b1e2f30"),
            upNginx: .exit(
                1,
                stderr:
                    "Error response from daemon: driver failed programming external connectivity on endpoint \(f.project.name)-nginx-1: Bind for 0.0.0.0:80 failed: port is already allocated\n"
            ),
        ])
        let error = await #expect(throws: UserError.self) { try await run(docker) }
        #expect(error?.message.contains("`docker compose up` failed (exit 1):") == true, "\(String(describing: error))")
        #expect(
            error?.message.contains("Bind for 0.0.0.0:80 failed: port is already allocated") == true,
            "\(String(describing: error))")
        #expect(docker.unused.isEmpty)
    }
}

/// pull-models with a scripted `docker` (where the ollama container is) and a scripted Ollama API on a loopback port
/// (what it has and what a pull streams), reached with the real HTTP client.
@Suite struct PullModelsRuns {
    typealias F = StackStepFixture
    typealias Response = ScriptedHTTPServer.Response
    let f: F
    init() throws { f = try F() }

    var inspectNetworks: [String] {
        ["docker", "inspect", "--format", "{{json .NetworkSettings.Networks}}", "\(f.project.name)-ollama-1"]
    }
    var ollama: ComposePS.Container { ComposePS.Container("ollama", image: "ollama/ollama:0.6.8", health: "") }

    /// `docker inspect` of the ollama container's networks: on `egress` at `address`.
    func networks(egress address: String) -> ScriptedRunner.Reply {
        let name = f.project.name
        return .ok(
            """
            {"\(name)_backend":{"IPAMConfig":null,"Links":null,"Aliases":["\(name)-ollama-1","ollama"],"MacAddress":"02:42:ac:13:00:05","DriverOpts":null,"NetworkID":"6f1d","EndpointID":"a2c4","Gateway":"172.19.0.1","IPAddress":"172.19.0.5","IPPrefixLen":16,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":["\(name)-ollama-1","ollama"]},"\(name)_egress":{"IPAMConfig":null,"Links":null,"Aliases":["\(name)-ollama-1","ollama"],"MacAddress":"02:42:ac:14:00:02","DriverOpts":null,"NetworkID":"9b3e","EndpointID":"c7d1","Gateway":"172.20.0.1","IPAddress":"\(address)","IPPrefixLen":16,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":["\(name)-ollama-1","ollama"]}}

            """)
    }

    static func tags(_ names: String...) -> Response {
        .json(
            #"{"models":["#
                + names.map {
                    #"{"name":"\#($0)","model":"\#($0)","modified_at":"2025-05-30T10:11:12.123456789Z","size":4113301824,"digest":"f974a74358d62a017b37c6f424fcdf2744ca02926c4f952513ddf474b2fa5091","details":{"parent_model":"","format":"gguf","family":"llama","families":["llama"],"parameter_size":"7.2B","quantization_level":"Q4_0"}}"#
                }.joined(separator: ",") + "]}")
    }

    static let layer =
        #""digest":"sha256:8eeb52dfb3bb9aefdf9d1ef24b3bdbcfbe82238798c4b918278320b6fcef18fe","total":4920753152"#

    func run(_ docker: any CommandRunner, port: Int = 11434, models: [String], shown: ShownLines = ShownLines())
        async throws -> PullModels.Output
    {
        var action = PullModels(tools: try f.tools(docker))
        action.ollamaPort = port
        return try await action.run(
            try action.input(try f.inputs, needs: try f.needs(ollamaModels: models)), log: shown.log("pull-models")
        ).output
    }

    @Test func aMissingModelIsPulledWithProgressAndOnePresentIsKept() async throws {
        let server = try ScriptedHTTPServer([
            "GET /api/tags": Self.tags("mistral:7b"),
            "POST /api/pull": .ndjson([
                #"{"status":"pulling manifest"}"#,
                #"{"status":"pulling 8eeb52dfb3bb",\#(Self.layer)}"#,
                #"{"status":"pulling 8eeb52dfb3bb",\#(Self.layer),"completed":2460376576}"#,
                #"{"status":"pulling 8eeb52dfb3bb",\#(Self.layer),"completed":4920753152}"#,
                #"{"status":"verifying sha256 digest"}"#,
                #"{"status":"writing manifest"}"#,
                #"{"status":"success"}"#,
            ]),
            "GET /api/tags": Self.tags("mistral:7b", "llama3.1:8b"),
        ])
        defer { server.stop() }
        let docker = ScriptedRunner([
            f.ps: f.containers(F.db(), F.nginx(), ollama),
            inspectNetworks: networks(egress: "127.0.0.1"),
        ])
        let shown = ShownLines()
        let output = try await run(docker, port: server.port, models: ["mistral:7b", "llama3.1:8b"], shown: shown)
        #expect(output.models == ["llama3.1:8b", "mistral:7b"])
        #expect(server.unexpected.isEmpty && server.unused.isEmpty)
        #expect(server.received.map(\.key) == ["GET /api/tags", "POST /api/pull", "GET /api/tags"])
        let pull = try #require(server.received.dropFirst().first)
        #expect(
            try JSONSerialization.jsonObject(with: Data(pull.body.utf8)) as? NSDictionary == [
                "model": "llama3.1:8b", "stream": true,
            ])
        #expect(docker.unused.isEmpty)
        let lines = shown.text.split(separator: "\n").map(String.init)
        #expect(lines.first == "already present: mistral:7b")
        #expect(lines.contains("llama3.1:8b: [#####.....] 50 % of 4.9 GB (sha256:8eeb52dfb3bb)"), "\(lines)")
        #expect(lines.contains("llama3.1:8b: success"), "\(lines)")
        #expect(lines.last == "models present: mistral:7b, llama3.1:8b")
    }

    @Test func aPullThatOllamaRefusesFailsWithItsWords() async throws {
        let server = try ScriptedHTTPServer([
            "GET /api/tags": Self.tags(),
            "POST /api/pull": .ndjson([
                #"{"status":"pulling manifest"}"#, #"{"error":"pull model manifest: file does not exist"}"#,
            ]),
        ])
        defer { server.stop() }
        let docker = ScriptedRunner([
            f.ps: f.containers(ollama),
            inspectNetworks: networks(egress: "127.0.0.1"),
        ])
        let error = await #expect(throws: UserError.self) {
            try await run(docker, port: server.port, models: ["llama9:1t"])
        }
        #expect(error?.message == "Ollama could not pull llama9:1t: pull model manifest: file does not exist")
        #expect(server.unexpected.isEmpty && server.unused.isEmpty)
    }

    @Test func aPullThatEndsWithoutSuccessIsNotDone() async throws {
        let server = try ScriptedHTTPServer([
            "GET /api/tags": Self.tags(),
            "POST /api/pull": .ndjson([
                #"{"status":"pulling manifest"}"#, #"{"status":"pulling 8eeb52dfb3bb",\#(Self.layer),"completed":100}"#,
            ]),
        ])
        defer { server.stop() }
        let docker = ScriptedRunner([
            f.ps: f.containers(ollama),
            inspectNetworks: networks(egress: "127.0.0.1"),
        ])
        let error = await #expect(throws: UserError.self) {
            try await run(docker, port: server.port, models: ["llama3.1:8b"])
        }
        #expect(error?.message == "Ollama did not finish pulling llama3.1:8b (HTTP 200).")
        #expect(server.unexpected.isEmpty)
    }

    @Test func numbersNearInt64MaxShowAsProgressInsteadOfStoppingSbs() async throws {
        let huge = #""digest":"sha256:8eeb52dfb3bb","total":9223372036854775807"#
        let server = try ScriptedHTTPServer([
            "GET /api/tags": Self.tags(),
            "POST /api/pull": .ndjson([
                #"{"status":"pulling 8eeb52dfb3bb",\#(huge),"completed":9223372036854775806}"#,
                #"{"status":"pulling 8eeb52dfb3bb",\#(huge),"completed":9223372036854775807}"#,
                #"{"status":"pulling 8eeb52dfb3bb","digest":"sha256:8eeb52dfb3bb","total":10,"completed":-9223372036854775808}"#,
                #"{"status":"success"}"#,
            ]),
            "GET /api/tags": Self.tags("llama3.1:8b"),
        ])
        defer { server.stop() }
        let docker = ScriptedRunner([f.ps: f.containers(ollama), inspectNetworks: networks(egress: "127.0.0.1")])
        let shown = ShownLines()
        let output = try await run(docker, port: server.port, models: ["llama3.1:8b"], shown: shown)
        #expect(output.models == ["llama3.1:8b"])
        let lines = shown.text.split(separator: "\n").map(String.init)
        #expect(lines.contains("llama3.1:8b: [#########.] 90 % of 9223372.0 TB (sha256:8eeb52dfb3bb)"), "\(lines)")
        #expect(lines.contains("llama3.1:8b: [##########] 100 % of 9223372.0 TB (sha256:8eeb52dfb3bb)"), "\(lines)")
        #expect(lines.contains("llama3.1:8b: [..........] 0 % of 10 B (sha256:8eeb52dfb3bb)"), "\(lines)")
    }

    @Test func anOverLongProgressLineFailsThePullAndItsTailIsNotReadAsALine() async throws {
        // 1 MiB without a line end, then what would read as success were the line cut at 64 KiB and its tail read.
        let server = try ScriptedHTTPServer([
            "GET /api/tags": Self.tags(),
            "POST /api/pull": Response(
                contentType: "application/x-ndjson",
                chunks: [#"{"status":"pulling manifest"}"# + "\n", String(repeating: "x", count: 1 << 20)]
                    + [#"{"status":"success"}"# + "\n"]),
        ])
        defer { server.stop() }
        let docker = ScriptedRunner([f.ps: f.containers(ollama), inspectNetworks: networks(egress: "127.0.0.1")])
        let error = await #expect(throws: UserError.self) {
            try await run(docker, port: server.port, models: ["llama3.1:8b"])
        }
        #expect(
            error?.message
                == "Ollama could not pull llama3.1:8b: a progress line longer than 64 KiB (Ollama's are under 200 bytes); it was skipped to its end",
            "\(String(describing: error))")
        #expect(server.unexpected.isEmpty && server.unused.isEmpty)
    }

    @Test func aStoppedOllamaIsNamedBeforeAnyRequest() async throws {
        let docker = ScriptedRunner([
            f.ps: f.containers(
                F.db(),
                ComposePS.Container("ollama", image: "ollama/ollama:0.6.8", state: "exited", health: "", exitCode: 137))
        ])
        let error = await #expect(throws: UserError.self) { try await run(docker, models: ["llama3.1:8b"]) }
        #expect(error?.message == "The ollama service is not running.")
        #expect(docker.calls == [f.ps])
    }

    @Test func anOllamaOffTheEgressNetworkIsNamed() async throws {
        let docker = ScriptedRunner([
            f.ps: f.containers(ollama),
            inspectNetworks: .ok(#"{"\#(f.project.name)_backend":{"IPAddress":"172.19.0.5"}}"# + "\n"),
        ])
        let error = await #expect(throws: UserError.self) { try await run(docker, models: ["llama3.1:8b"]) }
        #expect(
            error?.message.hasPrefix(
                "sbs cannot find the address of \(f.project.name)-ollama-1 on the network \(f.project.name)_egress")
                == true, "\(String(describing: error))")
        #expect(docker.unused.isEmpty)
    }

    @Test func aProfileWithoutModelsAsksNothing() async throws {
        #expect(try await run(RefusingRunner(), models: []).models == [])
    }
}
