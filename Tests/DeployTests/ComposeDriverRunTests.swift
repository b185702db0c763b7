import Deploy
import Foundation
import Processes
import SBSCore
import Synchronization
import TestSupport
import Testing

/// What `ComposeDriver` does with what `docker` answers: the commands it runs (exact argv), and what it makes of
/// their exit status and output. `docker` is a script of recorded answers; the real runs are in the end-to-end
/// scripts (scripts/test/).
struct ComposeDriverScript {
    static let project = ComposeProject(name: "sbs", directory: "/opt/sbs")
    static let db = "supabase/postgres:15.1.0.117"
    static let nginx = "nginx:1.27.3-alpine"

    let lines: Lines
    var driver: ComposeDriver

    init(_ script: ScriptedRunner, profiles: [String] = ["monitoring"]) {
        let lines = Lines()
        self.lines = lines
        driver = ComposeDriver(project: Self.project, runner: script, profiles: profiles) { lines.append($0) }
        driver.pollInterval = .milliseconds(2)
    }

    /// `docker compose … --profile monitoring ARGUMENTS`.
    static func compose(_ arguments: String...) -> [String] {
        project.command(["--profile", "monitoring"] + arguments)
    }

    /// `docker compose ps` lists every container of the project: it is run without profiles.
    static let ps = project.command(["ps", "--all", "--format", "json"])

    static func containers(_ containers: ComposePS.Container...) -> ScriptedRunner.Reply {
        .ok(ComposePS.output(project: project.name, containers))
    }

    static func db(_ state: String = "running", health: String = "healthy", exitCode: Int = 0) -> ComposePS.Container {
        ComposePS.Container("app-db", image: db, state: state, health: health, exitCode: exitCode)
    }

    static func nginx(_ state: String = "running", health: String = "healthy") -> ComposePS.Container {
        ComposePS.Container(
            "nginx", image: nginx, state: state, health: health,
            ports: [("0.0.0.0", 80, 80), ("0.0.0.0", 443, 443), ("::", 80, 80), ("::", 443, 443)])
    }

    static func healthLog(_ name: String) -> [String] {
        [
            "docker", "inspect", "--format",
            "{{if .State.Health}}{{range .State.Health.Log}}{{.ExitCode}}: {{.Output}}{{end}}{{end}}", name,
        ]
    }

    static func logs(_ service: String) -> [String] { compose("logs", "--no-color", "--tail", "10", service) }

    static func inspectImage(_ image: String) -> [String] {
        ["docker", "image", "inspect", "--format", "{{.Id}}", "--", image]
    }

    static func noSuchImage(_ image: String) -> ScriptedRunner.Reply {
        .exit(1, stderr: "Error response from daemon: No such image: \(image)\n", stdout: "\n")
    }
}

/// The progress lines the driver showed.
final class Lines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

@Suite struct ComposeUp {
    typealias S = ComposeDriverScript

    @Test func upStartsTheServicesThenReturnsOnceEveryOneIsHealthy() async throws {
        let up = S.compose("up", "--detach", "--remove-orphans", "app-db", "nginx")
        let docker = ScriptedRunner([
            S.ps: S.containers(S.db("created", health: ""), S.nginx("created", health: "")).repeating,
            up: .ok(stderr: " Container sbs-app-db-1  Started\n Container sbs-nginx-1  Started\n")
                .changing(S.ps, to: S.containers(S.db(), S.nginx()).repeating),
        ])
        try await S(docker).driver.up(["app-db", "nginx"], deadline: .seconds(30))
        #expect(docker.calls.filter { $0 != S.ps } == [up])
        #expect(docker.calls.last == S.ps, "health is read after up")
        #expect(docker.unused.isEmpty)
    }

    @Test func aFailedUpQuotesComposeAndShowsTheServiceThatDidNotStart() async throws {
        let up = S.compose("up", "--detach", "--remove-orphans")
        let stderr = """
             Container sbs-app-db-1  Running
             Container sbs-nginx-1  Starting
            Error response from daemon: driver failed programming external connectivity on endpoint sbs-nginx-1 (4f0c): Bind for 0.0.0.0:80 failed: port is already allocated

            """
        let docker = ScriptedRunner([
            S.ps: S.containers(S.db(), S.nginx("created", health: "")).repeating,
            up: .exit(1, stderr: stderr),
            S.healthLog("sbs-nginx-1"): .ok("\n"),
            S.logs("nginx"): .ok(""),
        ])
        let error = await #expect(throws: UserError.self) { try await S(docker).driver.up(deadline: .seconds(30)) }
        let message = try #require(error).message
        #expect(message.hasPrefix("`docker compose up` failed (exit 1): "), "\(message)")
        #expect(message.contains("Bind for 0.0.0.0:80 failed: port is already allocated"), "\(message)")
        #expect(message.contains("\n  nginx (sbs-nginx-1): created"), "\(message)")
        #expect(!message.contains("app-db ("), "a healthy service is not diagnosed")
        // What to look at and fix; what to run next is the command's to say (`sbs resume`, or sbs upgrade's rollback).
        #expect(error?.remedy?.hasPrefix("Fix what the log above shows") == true)
        #expect(error?.remedy?.contains("sbs resume") == false)
        #expect(docker.unused.isEmpty)
    }

    @Test func anUpPastItsDeadlineSaysItTimedOut() async throws {
        let up = S.compose("up", "--detach", "--remove-orphans", "--no-deps", "nginx")
        let docker = ScriptedRunner([
            S.ps: S.containers().repeating,
            ["env", "NGINX_CONF=bootstrap.conf"] + up: .timedOut(stderr: " Container sbs-nginx-1  Creating\n"),
        ])
        let error = await #expect(throws: UserError.self) {
            try await S(docker).driver.up(
                ["nginx"], noDeps: true, variables: ["NGINX_CONF=bootstrap.conf"], deadline: .seconds(30))
        }
        #expect(
            error?.message.hasPrefix("`docker compose up` failed (timed out): Container sbs-nginx-1  Creating") == true,
            "\(String(describing: error))")
        #expect(docker.unused.isEmpty)
    }

    @Test func upWaitsForAServiceThatTurnsUnhealthyAndSaysWhatItsHealthcheckSaid() async throws {
        let up = S.compose("up", "--detach", "--remove-orphans")
        let docker = ScriptedRunner([
            S.ps: S.containers(S.db("created", health: ""), S.nginx("created", health: "")).repeating,
            up: .ok().changing(S.ps, to: S.containers(S.db(health: "unhealthy"), S.nginx()).repeating),
            S.healthLog("sbs-app-db-1"): .ok("1: localhost:5432 - no response\n1: localhost:5432 - no response\n"),
            S.logs("app-db"): .ok(
                "app-db-1  | FATAL:  could not map anonymous shared memory: Cannot allocate memory\n"),
        ])
        let error = await #expect(throws: UserError.self) { try await S(docker).driver.up(deadline: .seconds(30)) }
        let message = try #require(error).message
        #expect(
            message.hasPrefix(
                "app-db did not become healthy within 30.0 seconds: app-db running/unhealthy\n  app-db (sbs-app-db-1): running, unhealthy\n"
            ), "\(message)")
        #expect(
            message.contains("last healthchecks: 1: localhost:5432 - no response | 1: localhost:5432 - no response"),
            "\(message)")
        #expect(
            message.contains("last log lines: app-db-1  | FATAL:  could not map anonymous shared memory"), "\(message)")
        #expect(docker.unused.isEmpty)
    }
}

@Suite struct ComposeWaitReady {
    typealias S = ComposeDriverScript

    @Test func itPollsUntilEveryServiceIsHealthy() async throws {
        let docker = ScriptedRunner([
            S.ps: S.containers(S.db(health: "starting"), S.nginx(health: "starting")),
            S.ps: S.containers(S.db(), S.nginx(health: "starting")),
            S.ps: S.containers(S.db(), S.nginx()),
        ])
        try await S(docker).driver.waitReady(["app-db", "nginx"], deadline: .seconds(30))
        #expect(docker.calls == [S.ps, S.ps, S.ps], "it stops asking once both are healthy")
    }

    /// A `ps` that answers only after the deadline (a busy host), with every service healthy: ready, not a failure
    /// that names no service.
    @Test func healthyServicesSeenAtTheDeadlineAreReady() async throws {
        let docker = ScriptedRunner([S.ps: S.containers(S.db(), S.nginx())])
        try await S(docker).driver.waitReady(["app-db", "nginx"], deadline: .zero)
        #expect(docker.calls == [S.ps])
    }

    @Test func aServiceThatNeverBecomesHealthyFailsAtTheDeadlineWithItsHealthLog() async throws {
        let docker = ScriptedRunner([
            S.ps: S.containers(S.db(), S.nginx(health: "starting")).repeating,
            S.healthLog("sbs-nginx-1"): .ok("1: wget: can't connect to remote host (127.0.0.1): Connection refused\n"),
            S.logs("nginx"): .ok(
                "nginx-1  | 2025/06/02 09:14:05 [emerg] 1#1: host not found in upstream \"app-web:3000\"\n"),
        ])
        let started = ContinuousClock.now
        let error = await #expect(throws: UserError.self) {
            try await S(docker).driver.waitReady(["app-db", "nginx"], deadline: .milliseconds(100))
        }
        #expect(ContinuousClock.now - started >= .milliseconds(100), "it waited the whole deadline")
        #expect(docker.calls.filter { $0 == S.ps }.count > 2, "it polled more than once")
        let message = try #require(error).message
        #expect(
            message.hasPrefix("nginx did not become healthy within 0.1 seconds: nginx running/starting\n"), "\(message)"
        )
        #expect(
            message.contains(
                "last healthchecks: 1: wget: can't connect to remote host (127.0.0.1): Connection refused"),
            "\(message)")
        #expect(message.contains(#"host not found in upstream "app-web:3000""#), "\(message)")
        #expect(error?.remedy?.contains("logs nginx") == true)
    }

    @Test func anExitedServiceFailsAtOnceWithoutWaiting() async throws {
        // Two answers to ps: the poll and the diagnosis. A third ask (waiting on) is not in the script.
        let docker = ScriptedRunner([
            S.ps: S.containers(S.db("exited", health: "", exitCode: 1), S.nginx()),
            S.ps: S.containers(S.db("exited", health: "", exitCode: 1), S.nginx()),
            S.healthLog("sbs-app-db-1"): .ok(""),
            S.logs("app-db"): .ok(
                "app-db-1  | initdb: error: directory \"/var/lib/postgresql/data\" exists but is not empty\n"),
        ])
        let error = await #expect(throws: UserError.self) {
            try await S(docker).driver.waitReady([], deadline: .seconds(600))
        }
        let message = try #require(error).message
        #expect(
            message.hasPrefix(
                "app-db did not become healthy within 600.0 seconds: app-db exited\n  app-db (sbs-app-db-1): exited\n"),
            "\(message)")
        #expect(message.contains("exists but is not empty"), "\(message)")
        #expect(!message.contains("last healthchecks"), "no healthcheck ran: nothing to show")
        #expect(docker.unused.isEmpty)
    }

    @Test func aServiceWithoutAContainerIsNamed() async throws {
        let docker = ScriptedRunner([
            S.ps: S.containers(S.db()).repeating
        ])
        let error = await #expect(throws: UserError.self) {
            try await S(docker).driver.waitReady(["app-db", "nginx"], deadline: .milliseconds(20))
        }
        #expect(
            error?.message.hasPrefix("nginx did not become healthy within ") == true, "\(String(describing: error))")
        #expect(error?.message.contains("no container for nginx") == true, "\(String(describing: error))")
    }
}

@Suite struct ComposeImages {
    typealias S = ComposeDriverScript

    @Test func imagesOnTheEngineAreNotPulled() async throws {
        let docker = ScriptedRunner([
            S.inspectImage(S.db): .ok("sha256:5e7abcd0\n"),
            S.inspectImage(S.nginx): .ok("sha256:9b1e2f30\n"),
        ])
        let script = S(docker)
        try await script.driver.ensureImages([S.db, S.nginx])
        #expect(docker.unused.isEmpty)
        #expect(script.lines.all == ["all 2 images are present"])
    }

    @Test func aMissingImageIsPulledAndOnlyThatOne() async throws {
        let docker = ScriptedRunner([
            S.inspectImage(S.db): .ok("sha256:5e7abcd0\n"),
            S.inspectImage(S.nginx): S.noSuchImage(S.nginx),
            ["docker", "pull", "--quiet", "--", S.nginx]: .ok("docker.io/library/\(S.nginx)\n"),
        ])
        let script = S(docker)
        try await script.driver.ensureImages([S.db, S.nginx])
        #expect(docker.unused.isEmpty)
        #expect(docker.calls.last == ["docker", "pull", "--quiet", "--", S.nginx])
        #expect(script.lines.all.first == "pulling \(S.nginx) (1 of 1)")
        #expect(script.lines.all.last?.hasPrefix("pulled \(S.nginx) in ") == true, "\(script.lines.all)")
    }

    @Test func aPullThatFailsNamesTheImageAndQuotesTheRegistry() async throws {
        let docker = ScriptedRunner([
            S.inspectImage("nginx:9.9-alpine"): S.noSuchImage("nginx:9.9-alpine"),
            ["docker", "pull", "--quiet", "--", "nginx:9.9-alpine"]: .exit(
                1,
                stderr:
                    "Error response from daemon: manifest for nginx:9.9-alpine not found: manifest unknown: manifest unknown\n"
            ),
        ])
        let error = await #expect(throws: UserError.self) {
            try await S(docker).driver.ensureImages(["nginx:9.9-alpine"])
        }
        #expect(
            error?.message
                == "Pulling nginx:9.9-alpine failed (exit 1): Error response from daemon: manifest for nginx:9.9-alpine not found: manifest unknown: manifest unknown"
        )
        #expect(error?.remedy?.contains("images.archive") == true)
    }

    @Test func aPrivateRegistryIsPulledFromWithItsOwnClientConfig() async throws {
        let folder = try TemporaryDirectory("registry")
        let login = RegistryLogin(
            server: "registry.example.com", user: "deploy", password: "s3cret", configDirectory: folder.path + "/docker"
        )
        let image = "registry.example.com/shop/app-web:2.4"
        let docker = ScriptedRunner([
            S.inspectImage(image): S.noSuchImage(image),
            ["env", "DOCKER_CONFIG=" + folder.path + "/docker", "docker", "pull", "--quiet", "--", image]: .ok(
                image + "\n"),
        ])
        try await S(docker).driver.ensureImages([image], registry: login)
        #expect(docker.unused.isEmpty)
        #expect(FileManager.default.fileExists(atPath: folder.path + "/docker/config.json"))
        #expect(!docker.calls.flatMap { $0 }.contains { $0.contains("s3cret") }, "the password is never in an argv")
    }

    @Test func anArchiveIsLoadedInsteadOfPullingAndMustHoldEveryMissingImage() async throws {
        let archive = "/srv/images/sbs-images.tar"
        let load = ["docker", "load", "--quiet", "--input", archive]
        let docker = ScriptedRunner([
            S.inspectImage(S.db): S.noSuchImage(S.db),
            S.inspectImage(S.nginx): S.noSuchImage(S.nginx),
            load: .ok("Loaded image: \(S.db)\nLoaded image: \(S.nginx)\n"),
            S.inspectImage(S.db): .ok("sha256:5e7abcd0\n"),
            S.inspectImage(S.nginx): .ok("sha256:9b1e2f30\n"),
        ])
        try await S(docker).driver.ensureImages([S.db, S.nginx], archive: archive)
        #expect(docker.unused.isEmpty)
        #expect(!docker.calls.contains { $0.contains("pull") })

        let short = ScriptedRunner([
            S.inspectImage(S.db): S.noSuchImage(S.db),
            S.inspectImage(S.nginx): S.noSuchImage(S.nginx),
            load: .ok("Loaded image: \(S.db)\n"),
            S.inspectImage(S.db): .ok("sha256:5e7abcd0\n"),
            S.inspectImage(S.nginx): S.noSuchImage(S.nginx),
        ])
        let error = await #expect(throws: UserError.self) {
            try await S(short).driver.ensureImages([S.db, S.nginx], archive: archive)
        }
        #expect(error?.message == "\(archive) does not hold \(S.nginx); with images.archive nothing is pulled.")
        #expect(short.unused.isEmpty)

        let broken = ScriptedRunner([
            S.inspectImage(S.db): S.noSuchImage(S.db),
            load: .exit(1, stderr: "open /srv/images/sbs-images.tar: no such file or directory\n"),
        ])
        let failed = await #expect(throws: UserError.self) {
            try await S(broken).driver.ensureImages([S.db], archive: archive)
        }
        #expect(
            failed?.message
                == "`docker load --input \(archive)` failed (exit 1): open /srv/images/sbs-images.tar: no such file or directory"
        )
    }
}

@Suite struct NginxReload {
    typealias S = ComposeDriverScript
    static let test = S.compose("exec", "-T", "nginx", "nginx", "-t", "-c", "/etc/nginx/sbs/nginx.conf")
    static let reload = S.compose("exec", "-T", "nginx", "nginx", "-c", "/etc/nginx/sbs/nginx.conf", "-s", "reload")
    static let accepted =
        "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok\nnginx: configuration file /etc/nginx/nginx.conf test is successful\n"

    @Test func aRunningNginxIsTestedThenReloaded() async throws {
        let docker = ScriptedRunner([
            S.ps: S.containers(S.db(), S.nginx()),
            Self.test: .ok(stderr: Self.accepted),
            Self.reload: .ok(stderr: "2025/06/02 09:20:00 [notice] 31#31: signal process started\n"),
        ])
        #expect(try await S(docker).driver.reloadNginx())
        #expect(docker.calls == [S.ps, Self.test, Self.reload])
    }

    @Test func withoutARunningNginxThereIsNothingToReload() async throws {
        let docker = ScriptedRunner([S.ps: S.containers(S.db(), S.nginx("exited", health: ""))])
        #expect(try await !S(docker).driver.reloadNginx())
        #expect(docker.calls == [S.ps])
    }

    @Test func aConfigThatFailsTheTestIsNotReloadedAndNginxSaysWhy() async throws {
        let docker = ScriptedRunner([
            S.ps: S.containers(S.nginx()),
            Self.test: .exit(
                1,
                stderr: """
                    nginx: [emerg] cannot load certificate "/etc/nginx/ssl/live/shop.example.com/fullchain.pem": PEM_read_bio_X509_AUX() failed (SSL: error:0480006C:PEM routines::no start line:Expecting: TRUSTED CERTIFICATE)
                    nginx: configuration file /etc/nginx/nginx.conf test failed

                    """),
        ])
        let error = await #expect(throws: UserError.self) { try await S(docker).driver.reloadNginx() }
        let message = try #require(error).message
        #expect(
            message.hasPrefix(
                "nginx does not accept its configuration with the new certificate: nginx: [emerg] cannot load certificate"
            ), "\(message)")
        #expect(message.hasSuffix("nginx: configuration file /etc/nginx/nginx.conf test failed"), "\(message)")
        #expect(error?.remedy?.hasPrefix("nginx keeps serving the previous certificate.") == true)
        #expect(!docker.calls.contains(Self.reload))
    }

    @Test func aFailedReloadSaysSo() async throws {
        let docker = ScriptedRunner([
            S.ps: S.containers(S.nginx()),
            Self.test: .ok(stderr: Self.accepted),
            Self.reload: .exit(1, stderr: "nginx: [error] invalid PID number \"\" in \"/run/nginx.pid\"\n"),
        ])
        let error = await #expect(throws: UserError.self) { try await S(docker).driver.reloadNginx() }
        #expect(error?.message == #"nginx did not reload: nginx: [error] invalid PID number "" in "/run/nginx.pid""#)
        #expect(error?.remedy?.contains("restart nginx") == true)
    }
}
