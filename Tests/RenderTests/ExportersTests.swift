import Foundation
import Host
import SBSCore
import TestSupport
import Testing
import Yams

@testable import Render

/// What the monitoring profile adds beside Prometheus: node-exporter, postgres-exporter and blackbox-exporter, read
/// back from the rendered files (Yams), and blackbox's configuration loaded by the real blackbox_exporter (Debian's
/// prometheus-blackbox-exporter).
@Suite("Exporters and site probes")
struct ExportersTests {
    /// Each rendered file of `input` by path.
    func rendered(_ input: RenderInput, secrets: Secrets) throws -> [String: RenderedFile] {
        let files = try ConfigRenderer.render(input, secrets: secrets, templates: Repository.templates())
        return Dictionary(uniqueKeysWithValues: files.map { ($0.relativePath, $0) })
    }

    func yaml(_ file: RenderedFile?) throws -> [String: Any] {
        let file = try #require(file)
        return try #require(try Yams.load(yaml: file.text) as? [String: Any], "\(file.relativePath)")
    }

    /// Over inputs with one to five names, ACME with and without a CA bundle, self-signed, and the user's files.
    static let cases: [(names: Int, tls: String, bundle: Bool)] = [
        (1, "acme", false), (2, "acme", true), (5, "acme", true), (3, "self-signed", false), (2, "files", false),
    ]

    @Test(arguments: 0..<cases.count)
    func prometheusScrapesEveryExporterAndProbesEveryNameThroughNginx(_ index: Int) throws {
        let (names, tlsMode, bundle) = Self.cases[index]
        let profile = try Repository.profileTable().choose(
            for: facts(memoryMiB: 32000, cpus: 4), request: ProfileChoiceRequest())
        let aliases = (1..<names).map { "n\($0).shop.example.com" }
        let tls: TLSSource
        switch tlsMode {
        case "self-signed": tls = .selfSigned(directory: try SafeToken("/etc/sbs/ssl"))
        case "files": tls = .files(certificate: try SafeToken("/srv/c.pem"), key: try SafeToken("/srv/k.pem"))
        default: tls = .acme(directory: try SafeToken("/etc/sbs/ssl"))
        }
        var input = try makeInput(profile: profile, aliases: aliases, tls: tls)
        input.metricsDirectory = try SafeToken("/srv/root/var/lib/sbs/metrics")
        if bundle { input.siteCABundle = try SafeToken("/srv/ca/bundle.pem") }
        let files = try rendered(input, secrets: try fixedSecrets())
        let allNames = ["shop.example.com"] + aliases

        // Prometheus: one job per exporter at its service's port, Kong's Status API, and the site's probes through
        // blackbox.
        let prometheus = try yaml(files["monitoring/prometheus/prometheus.yml"])
        let jobs = try #require(prometheus["scrape_configs"] as? [[String: Any]])
        func targets(_ job: String) -> [String] {
            let found = jobs.first { $0["job_name"] as? String == job }
            let statics = found?["static_configs"] as? [[String: Any]] ?? []
            return statics.flatMap { $0["targets"] as? [String] ?? [] }
        }
        #expect(targets("node") == ["node-exporter:9100"])
        #expect(targets("postgres") == ["postgres-exporter:9187"])
        #expect(targets("blackbox") == ["blackbox-exporter:9115"])
        #expect(targets("kong") == ["app-kong:8100"])
        #expect(
            targets("site")
                == allNames.map { "https://\($0)/" } + [
                    "https://shop.example.com/api/health", "https://shop.example.com/auth/v1/health",
                ])
        let site = try #require(jobs.first { $0["job_name"] as? String == "site" })
        #expect(site["metrics_path"] as? String == "/probe")
        #expect((site["params"] as? [String: [String]])?["module"] == ["site"])
        let relabel = try #require(site["relabel_configs"] as? [[String: Any]])
        #expect(
            relabel.contains {
                $0["target_label"] as? String == "__address__"
                    && $0["replacement"] as? String == "blackbox-exporter:9115"
            })

        // Compose: the names are nginx on edge; blackbox is on edge and backend; the exporters in the monitoring
        // profile; node-exporter reads the host read-only and sbs's metrics folder.
        let compose = try yaml(files["docker-compose.yml"])
        let services = try #require(compose["services"] as? [String: [String: Any]])
        let nginxNetworks = try #require(services["nginx"]?["networks"] as? [String: Any])
        #expect((nginxNetworks["edge"] as? [String: Any])?["aliases"] as? [String] == allNames)
        #expect(Set(services["blackbox-exporter"]?["networks"] as? [String] ?? []) == ["edge", "backend"])
        for exporter in [StackService.nodeExporter, .postgresExporter, .blackboxExporter] {
            let service = try #require(services[exporter.rawValue], "\(exporter)")
            #expect(service["profiles"] as? [String] == ["monitoring"])
            #expect(service["image"] as? String == input.images[exporter].value)
            #expect(
                ((service["deploy"] as? [String: Any])?["resources"] as? [String: Any]).flatMap {
                    ($0["limits"] as? [String: Any])?["memory"] as? String
                } == "\(profile.memoryLimitMiB(for: exporter))M")
        }
        #expect(
            services["node-exporter"]?["volumes"] as? [String] == [
                "/:/host:ro", "/srv/root/var/lib/sbs/metrics:/var/lib/sbs/metrics:ro",
            ])
        // The container's own mounts are left out of the filesystems, the host's kept (compose reads `$$` as `$`).
        let flags = services["node-exporter"]?["command"] as? [String] ?? []
        let exclude = try #require(
            flags.first { $0.hasPrefix("--collector.filesystem.mount-points-exclude=") }?.split(
                separator: "=", maxSplits: 1
            ).last.map { String($0).replacingOccurrences(of: "$$", with: "$") })
        let pattern = try NSRegularExpression(pattern: exclude)
        func excluded(_ path: String) -> Bool {
            pattern.firstMatch(in: path, range: NSRange(path.startIndex..., in: path)) != nil
        }
        for path in ["/etc/hosts", "/etc/hostname", "/proc", "/sys/fs/cgroup", "/var/lib/docker/overlay2/x/merged"] {
            #expect(excluded(path), "\(path)")
        }
        for path in ["/", "/srv", "/var", "/var/lib/docker", "/mnt/backup", "/etcetera"] {
            #expect(!excluded(path), "\(path)")
        }
        let blackboxVolumes = services["blackbox-exporter"]?["volumes"] as? [String] ?? []
        #expect(blackboxVolumes.contains("/srv/ca:/etc/sbs/site-ca:ro") == bundle)
        // The exporter's password comes from .env, as app-db's copy that the role's SQL reads.
        let environment = services["postgres-exporter"]?["environment"] as? [String: String]
        #expect(environment?["DATA_SOURCE_USER"] == "sbs_monitor")
        #expect(environment?["DATA_SOURCE_PASS"]?.hasPrefix("${MONITORING_DB_PASSWORD:?") == true)
        let dbEnvironment = services["app-db"]?["environment"] as? [String: String]
        #expect(dbEnvironment?["SBS_MONITORING_DB_PASSWORD"]?.hasPrefix("${MONITORING_DB_PASSWORD:?") == true)

        // blackbox: the CA bundle is trusted when there is one; a self-signed certificate verifies against nothing.
        let blackbox = try yaml(files["monitoring/blackbox/blackbox.yml"])
        let module = try #require((blackbox["modules"] as? [String: Any])?["site"] as? [String: Any])
        let http = try #require(module["http"] as? [String: Any])
        let tlsConfig = http["tls_config"] as? [String: Any] ?? [:]
        #expect((tlsConfig["ca_file"] as? String == "/etc/sbs/site-ca/bundle.pem") == bundle)
        #expect((tlsConfig["insecure_skip_verify"] as? Bool == true) == (tlsMode == "self-signed"))
        #expect(http["fail_if_not_ssl"] as? Bool == true)
    }

    @Test(.requires("prometheus-blackbox-exporter", install: "apt-get install -y prometheus-blackbox-exporter"))
    func theRealBlackboxExporterLoadsTheConfiguration() throws {
        for golden in GoldenCase.allCases {
            let (input, secrets) = try golden.input()
            let files = try rendered(input, secrets: secrets)
            guard input.profile.monitoringEnabled else {
                #expect(files["monitoring/blackbox/blackbox.yml"] == nil)
                continue
            }
            let dir = try Scratch.folder("blackbox")
            let path = dir + "/blackbox.yml"
            try Data(try #require(files["monitoring/blackbox/blackbox.yml"]).bytes).write(
                to: URL(fileURLWithPath: path))
            let check = RealTools.run(["prometheus-blackbox-exporter", "--config.check", "--config.file=" + path])
            #expect(check.status == 0, "\(golden): \(check.output)")
            // A setting the prober does not know is refused: the check can fail.
            try Data((try String(contentsOfFile: path, encoding: .utf8) + "      no_such_setting: 1\n").utf8).write(
                to: URL(fileURLWithPath: path))
            let broken = RealTools.run(["prometheus-blackbox-exporter", "--config.check", "--config.file=" + path])
            #expect(broken.status != 0, "\(golden): \(broken.output)")
        }
    }

    /// The role's SQL holds no secret and is written whatever the profile (app-db mounts it).
    @Test func theMonitoringRoleSQLHoldsNoSecret() throws {
        for golden in GoldenCase.allCases {
            let (input, secrets) = try golden.input()
            let sql = try #require(try rendered(input, secrets: secrets)["db/monitoring-role.sql"]).text
            let password = try #require(secrets[.monitoringDBPassword])
            #expect(!sql.contains(password))
            #expect(sql.contains("GRANT pg_monitor TO sbs_monitor;"))
        }
    }
}
