import Foundation
import SBSCore
import TestSupport
import Testing
import Yams

@testable import Render

/// The API's request counts on their way to Prometheus: Kong's prometheus plugin in the rendered kong.yml, its Status
/// API in the rendered compose file, Prometheus's `kong` job; and Kong's stand-in in the stack's tests
/// (scripts/test/stand-ins/kong/kong.py), run on this host with python3 against the rendered kong.yml and a scripted
/// upstream, which must count as Kong 2.8.1's plugin does (kong/plugins/prometheus/exporter.lua): a stand-in that
/// counted otherwise would let a test pass on series the real Kong does not export.
@Suite("Kong's metrics reach Prometheus")
struct KongMetricsTests {
    static let standIn = Repository.root + "/scripts/test/stand-ins/kong/kong.py"

    struct Rendered {
        var kongYML: String
        var compose: [String: [String: Any]]
        var prometheus: [String: Any]?
        var kongEnvironment: [String: String] { compose["app-kong"]?["environment"] as? [String: String] ?? [:] }
    }

    func rendered(_ golden: GoldenCase) throws -> Rendered {
        let (input, secrets) = try golden.input()
        let files = try ConfigRenderer.render(input, secrets: secrets, templates: Repository.templates())
        func text(_ path: String) -> String? { files.first { $0.relativePath == path }?.text }
        let composeText = try #require(text("docker-compose.yml"))
        let compose = try #require(try Yams.load(yaml: composeText) as? [String: Any])
        return Rendered(
            kongYML: try #require(text("kong/kong.yml")),
            compose: try #require(compose["services"] as? [String: [String: Any]]),
            prometheus: try text("monitoring/prometheus/prometheus.yml").flatMap {
                try Yams.load(yaml: $0) as? [String: Any]
            })
    }

    @Test(arguments: GoldenCase.allCases)
    func prometheusScrapesKongsStatusAPIOnlyWithMonitoringAndNothingPublishesIt(_ golden: GoldenCase) throws {
        let (input, secrets) = try golden.input()
        let files = try rendered(golden)
        let environment = files.kongEnvironment
        let kong = try #require(files.compose["app-kong"])
        // Never published, and the Admin API stays off.
        #expect(kong["ports"] == nil)
        #expect(environment["KONG_ADMIN_LISTEN"] == "off")
        guard input.profile.monitoringEnabled else {
            #expect(environment["KONG_STATUS_LISTEN"] == nil)
            #expect(!files.kongYML.contains("prometheus"))
            #expect(files.prometheus == nil)
            return
        }
        #expect(environment["KONG_STATUS_LISTEN"] == "0.0.0.0:8100")
        #expect(files.kongYML.contains("\nplugins:\n  - name: prometheus\n"))
        let jobs = try #require(files.prometheus?["scrape_configs"] as? [[String: Any]])
        let job = try #require(jobs.first { $0["job_name"] as? String == "kong" })
        let targets = (job["static_configs"] as? [[String: Any]])?.flatMap { $0["targets"] as? [String] ?? [] }
        #expect(targets == ["app-kong:8100"])
        #expect(job["metrics_path"] == nil)  // /metrics, Prometheus's default and the Status API's path
        // Prometheus reaches app-kong on a network they share.
        let kongNetworks = Set(kong["networks"] as? [String] ?? [])
        let prometheusNetworks = Set(files.compose["prometheus"]?["networks"] as? [String] ?? [])
        #expect(kongNetworks.contains("backend") && prometheusNetworks.contains("backend"))
        // nginx routes nothing to the Status API.
        let nginx = try ConfigRenderer.render(input, secrets: secrets, templates: Repository.templates())
            .filter { $0.relativePath.hasPrefix("nginx/") }
        for file in nginx { #expect(!file.text.contains(":8100"), "\(file.relativePath)") }
    }

    /// Execs the program of its arguments with none of this process's descriptors but 0-2 and no signal blocked:
    /// posix_spawn hands a child every open descriptor, and a pipe of a tool another test runs meanwhile would stay
    /// open in the stand-in (that test waiting for its end), the scripted upstream's socket would outlive its
    /// `stop()`; and a child inherits the signals the spawning thread blocks.
    static let cleanExec = """
        import os, signal, sys
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        os.execvp(sys.argv[1], sys.argv[1:])
        """

    /// A stand-in started with `config` as its kong.yml, the rendered app-kong's environment plus `environment`, and
    /// its proxy on a free loopback port. Stopped (SIGKILL, waited for) by `stop()`.
    final class StandIn {
        let pid: pid_t
        let proxy: Int

        init(config: String, environment: [String: String]) async throws {
            let dir = try Scratch.folder("kong")
            try config.write(toFile: dir + "/kong.yml", atomically: true, encoding: .utf8)
            proxy = try freeLoopbackPort()
            var all = environment
            all["KONG_DECLARATIVE_CONFIG"] = dir + "/kong.yml"
            all["KONG_PROXY_LISTEN"] = "127.0.0.1:\(proxy)"
            pid = try #require(
                spawnQuietly(
                    ["python3", "-c", KongMetricsTests.cleanExec, "python3", KongMetricsTests.standIn, "docker-start"],
                    environment: all))
            do { try await waitForListener(proxy) } catch {
                stop()
                throw error
            }
        }

        func stop() {
            kill(pid, SIGKILL)
            _ = waitForExit(pid)
        }
    }

    /// The status and the body of a GET; status 0 when nothing answered.
    func get(_ url: String) -> (status: Int, body: String) {
        let result = RealTools.run(["curl", "-s", "--max-time", "10", "-w", "\n%{http_code}", url])
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    /// The samples of a Prometheus text exposition: `name{labels}` → value.
    func samples(_ text: String) -> [String: String] {
        var found: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            found[String(line[..<space])] = String(line[line.index(after: space)...])
        }
        return found
    }

    /// The rendered kong.yml with auth-v1's upstream on `port` of this host.
    func config(_ files: Rendered, upstream port: Int) throws -> String {
        #expect(files.kongYML.contains("url: http://app-auth:9999/"))
        return files.kongYML.replacingOccurrences(of: "http://app-auth:9999/", with: "http://127.0.0.1:\(port)/")
    }

    @Test(
        .requires("python3", "curl", install: "apt-get install -y python3 curl"), .timeLimit(.minutes(1)))
    func theStandInCountsWhatItProxiesAsKong28DoesOnItsStatusAPI() async throws {
        let files = try rendered(.recommendedCPU)
        let upstream = try ScriptedHTTPServer([
            "GET /health": .json("{}"), "GET /health": .json("{}"), "GET /broken": .json("{}", status: 500),
        ])
        defer { upstream.stop() }
        // The rendered Status API's address, on a free loopback port.
        let status = try freeLoopbackPort()
        let listen = try #require(files.kongEnvironment["KONG_STATUS_LISTEN"])
        #expect(listen.hasPrefix("0.0.0.0:"))
        var environment = files.kongEnvironment
        environment["KONG_STATUS_LISTEN"] = "127.0.0.1:\(status)"
        let kong = try await StandIn(config: try config(files, upstream: upstream.port), environment: environment)
        defer { kong.stop() }
        try await waitForListener(status)

        let proxy = "http://127.0.0.1:\(kong.proxy)"
        #expect(get(proxy + "/auth/v1/health").status == 200)
        #expect(get(proxy + "/auth/v1/health").status == 200)
        #expect(get(proxy + "/auth/v1/broken").status == 500)
        // No route: Kong's 404, which the plugin does not count (no service).
        let unmatched = get(proxy + "/rest/v1/tables")
        #expect(unmatched.status == 404 && unmatched.body.contains("no Route matched"), "\(unmatched)")
        // The upstream gone: Kong's 502, counted for the service.
        upstream.stop()
        #expect(get(proxy + "/auth/v1/health").status == 502)
        #expect(upstream.unexpected.isEmpty, "\(upstream.unexpected)")

        let metrics = get("http://127.0.0.1:\(status)/metrics")
        #expect(metrics.status == 200)
        let found = samples(metrics.body)
        let counted = found.filter { $0.key.hasPrefix("kong_http_status{") }
        #expect(
            counted == [
                #"kong_http_status{service="auth-v1",route="auth-v1",code="200"}"#: "2",
                #"kong_http_status{service="auth-v1",route="auth-v1",code="500"}"#: "1",
                #"kong_http_status{service="auth-v1",route="auth-v1",code="502"}"#: "1",
            ], "\(metrics.body)")
        #expect(metrics.body.contains("# TYPE kong_http_status counter\n"))
        #expect(found["kong_datastore_reachable"] == "1")
        #expect(Int(found[#"kong_nginx_http_current_connections{state="total"}"#] ?? "") ?? 0 >= 6, "\(found)")
        #expect(found.keys.allSatisfy { $0.hasPrefix("kong_") }, "\(found.keys)")
        // Kong 3's names are not Kong 2.8's.
        #expect(!metrics.body.contains("kong_http_requests_total"))
        // The rest of the Status API: /status, and Kong's 404 for what it does not have.
        #expect(get("http://127.0.0.1:\(status)/status").body.contains(#""reachable": true"#))
        #expect(get("http://127.0.0.1:\(status)/admin").status == 404)
    }

    @Test(
        .requires("python3", "curl", install: "apt-get install -y python3 curl"), .timeLimit(.minutes(1)))
    func withoutThePluginNothingIsCountedAndWhatKong28RefusesTheStandInRefuses() async throws {
        let off = try rendered(.developmentSelfSignedPort8443)  // monitoring off
        let upstream = try ScriptedHTTPServer(["GET /health": .json("{}"), "GET /health": .json("{}")])
        defer { upstream.stop() }
        let configWithout = try config(off, upstream: upstream.port)

        // Monitoring off: the rendered environment has no Status API.
        let quiet = try await StandIn(config: configWithout, environment: off.kongEnvironment)
        #expect(get("http://127.0.0.1:\(quiet.proxy)/auth/v1/health").status == 200)
        quiet.stop()

        // A Status API without the plugin in kong.yml: Kong 2.8 serves /metrics (the plugin is loaded, KONG_PLUGINS
        // bundled), but no request is counted.
        let status = try freeLoopbackPort()
        var environment = off.kongEnvironment
        environment["KONG_STATUS_LISTEN"] = "127.0.0.1:\(status)"
        let uncounted = try await StandIn(config: configWithout, environment: environment)
        try await waitForListener(status)
        #expect(get("http://127.0.0.1:\(uncounted.proxy)/auth/v1/health").status == 200)
        let metrics = get("http://127.0.0.1:\(status)/metrics")
        uncounted.stop()
        #expect(metrics.status == 200 && metrics.body.contains("kong_datastore_reachable 1"), "\(metrics)")
        #expect(!metrics.body.contains("kong_http_status"), "\(metrics.body)")

        // The plugin not loaded: no /metrics on the Status API.
        environment["KONG_PLUGINS"] = "cors"
        let unloaded = try await StandIn(config: configWithout, environment: environment)
        try await waitForListener(status)
        let none = get("http://127.0.0.1:\(status)/metrics")
        unloaded.stop()
        #expect(none.status == 404 && none.body.contains("Not found"), "\(none)")

        // A config enabling the plugin that KONG_PLUGINS does not load, or with Kong 3's option: refused at start.
        let on = try config(rendered(.recommendedCPU), upstream: upstream.port)
        let kong3 = on.replacingOccurrences(of: "per_consumer: false", with: "status_code_metrics: true")
        #expect(kong3 != on)
        for (config, plugins, reason) in [
            (on, "cors", "plugin 'prometheus' not enabled"), (kong3, "bundled", "status_code_metrics: unknown field"),
        ] {
            let dir = try Scratch.folder("kong-refused")
            try config.write(toFile: dir + "/kong.yml", atomically: true, encoding: .utf8)
            let started = RealTools.run([
                "env", "KONG_DATABASE=off", "KONG_DECLARATIVE_CONFIG=\(dir)/kong.yml", "KONG_PLUGINS=\(plugins)",
                "KONG_PROXY_LISTEN=127.0.0.1:\(try freeLoopbackPort())", "python3", Self.standIn, "docker-start",
            ])
            #expect(started.status == 1 && started.output.contains(reason), "\(started.output)")
        }
    }
}
