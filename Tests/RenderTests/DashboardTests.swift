import Foundation
import SBSCore
import TestSupport
import Testing
import Yams

@testable import Render

/// Grafana's dashboards (assets/deploy/monitoring/grafana/dashboards/*.json, copied as they are), read back from the
/// rendered deploy folder: where the provider finds them, the datasource their panels name, their queries checked by
/// the real promtool, and the stand-in Grafana of the end-to-end install listing them.
@Suite("Grafana's dashboards")
struct DashboardTests {
    static let dashboardsFolder = "monitoring/grafana/dashboards/"
    static let providerFile = "monitoring/grafana/provisioning/dashboards/sbs.yml"

    struct Dashboard {
        var path: String
        var json: [String: Any]
        var uid: String? { json["uid"] as? String }
        var title: String? { json["title"] as? String }

        /// Every panel, those inside rows too.
        var panels: [[String: Any]] {
            func flatten(_ panels: [[String: Any]]) -> [[String: Any]] {
                panels.flatMap { [$0] + flatten($0["panels"] as? [[String: Any]] ?? []) }
            }
            return flatten(json["panels"] as? [[String: Any]] ?? [])
        }

        var targets: [[String: Any]] { panels.flatMap { $0["targets"] as? [[String: Any]] ?? [] } }
        var exprs: [String] { targets.compactMap { $0["expr"] as? String } }
    }

    static func rendered(_ golden: GoldenCase) throws -> (RenderInput, [RenderedFile]) {
        let (input, secrets) = try golden.input()
        return (input, try ConfigRenderer.render(input, secrets: secrets, templates: Repository.templates()))
    }

    static func dashboards(_ files: [RenderedFile]) throws -> [Dashboard] {
        try files.filter { $0.relativePath.hasPrefix(dashboardsFolder) }.map { file in
            let json = try #require(
                try JSONSerialization.jsonObject(with: Data(file.bytes)) as? [String: Any],
                "\(file.relativePath) is not a JSON object")
            return Dashboard(path: file.relativePath, json: json)
        }
    }

    static func yaml(_ files: [RenderedFile], _ path: String) throws -> [String: Any] {
        let file = try #require(files.first { $0.relativePath == path }, "\(path) is not rendered")
        return try #require(try Yams.load(yaml: file.text) as? [String: Any], "\(path) is not a YAML mapping")
    }

    @Test(arguments: GoldenCase.allCases)
    func theProviderFindsEveryDashboardWhereComposeMountsThem(_ golden: GoldenCase) throws {
        let (input, files) = try Self.rendered(golden)
        let grafanaFiles = files.filter { $0.relativePath.hasPrefix("monitoring/grafana/") }
        #expect(grafanaFiles.isEmpty != input.profile.runsGrafana, "Grafana's files follow Grafana")
        guard input.profile.runsGrafana else { return }

        let providers = try #require(try Self.yaml(files, Self.providerFile)["providers"] as? [[String: Any]])
        #expect(providers.count == 1)
        let provider = try #require(providers.first)
        #expect(provider["folder"] as? String == "Small Business Server")
        #expect(provider["type"] as? String == "file")
        #expect(provider["disableDeletion"] as? Bool == true)
        #expect(provider["allowUiUpdates"] as? Bool == false)
        let path = try #require((provider["options"] as? [String: Any])?["path"] as? String)

        // The container path of the provider, mapped back to the deploy folder through the service's mounts.
        let compose = try Self.yaml(files, "docker-compose.yml")
        let grafana = try #require((compose["services"] as? [String: Any])?["monitoring"] as? [String: Any])
        let environment = try #require(grafana["environment"] as? [String: Any])
        let provisioning = try #require(environment["GF_PATHS_PROVISIONING"] as? String)
        let mounts = (grafana["volumes"] as? [String] ?? []).compactMap { volume -> (String, String)? in
            let parts = volume.split(separator: ":").map(String.init)
            guard parts.count >= 2, parts[0].hasPrefix("./") else { return nil }
            return (String(parts[0].dropFirst(2)), parts[1])
        }
        func deployPath(_ containerPath: String) -> String? {
            mounts.first { containerPath == $0.1 || containerPath.hasPrefix($0.1 + "/") }.map {
                $0.0 + containerPath.dropFirst($0.1.count)
            }
        }
        #expect(deployPath(provisioning + "/dashboards/sbs.yml") == Self.providerFile)
        #expect(deployPath(path).map { $0 + "/" } == Self.dashboardsFolder, "\(path) is not the dashboards' mount")
        #expect(try Self.dashboards(files).count == 5)
    }

    @Test func everyPanelNamesTheProvisionedDatasourceAndEveryDashboardItsOwnUIDAndTitle() throws {
        let (_, files) = try Self.rendered(.recommendedCPU)
        let datasources = try #require(
            try Self.yaml(files, "monitoring/grafana/provisioning/datasources/prometheus.yml")["datasources"]
                as? [[String: Any]])
        let uid = try #require(datasources.first?["uid"] as? String, "the datasource has no fixed uid")
        let dashboards = try Self.dashboards(files)
        #expect(!dashboards.isEmpty)
        for dashboard in dashboards {
            #expect(dashboard.uid?.isEmpty == false, "\(dashboard.path) has no uid")
            #expect(dashboard.title?.isEmpty == false, "\(dashboard.path) has no title")
            #expect(!dashboard.panels.isEmpty, "\(dashboard.path) has no panels")
            for panel in dashboard.panels where panel["type"] as? String != "row" {
                let title = panel["title"] as? String ?? "?"
                let datasource = panel["datasource"] as? [String: Any]
                #expect(datasource?["uid"] as? String == uid, "\(dashboard.path): panel \(title)")
                #expect(datasource?["type"] as? String == "prometheus", "\(dashboard.path): panel \(title)")
                let targets = panel["targets"] as? [[String: Any]] ?? []
                #expect(!targets.isEmpty, "\(dashboard.path): panel \(title) has no query")
                for target in targets {
                    #expect(
                        (target["datasource"] as? [String: Any])?["uid"] as? String == uid,
                        "\(dashboard.path): a query of panel \(title)")
                    #expect((target["expr"] as? String)?.isEmpty == false, "\(dashboard.path): panel \(title)")
                }
            }
        }
        let uids = dashboards.compactMap(\.uid)
        let titles = dashboards.compactMap(\.title)
        #expect(Set(uids).count == dashboards.count, "uids: \(uids.sorted())")
        #expect(Set(titles).count == dashboards.count, "titles: \(titles.sorted())")
    }

    /// The metric names a PromQL expression reads: its identifiers, once label matchers, ranges, strings, the
    /// label lists of `by (…)` and its kin, function names and keywords are taken out.
    static func metricNames(in expr: String) throws -> Set<String> {
        var text = expr
        for pattern in [
            #""[^"]*""#, #"\{[^}]*\}"#, #"\[[^\]]*\]"#,
            #"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"#,
        ] {
            text = text.replacing(try Regex(pattern), with: " ")
        }
        let keywords: Set = [
            "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
            "bool", "offset", "inf", "nan",
        ]
        var names: Set<String> = []
        // A number (0.95, 1e3) is matched whole and left out; so is a name followed by `(`, a function's.
        for match in text.matches(of: try Regex(#"[0-9.]*[A-Za-z_:][A-Za-z0-9_:]*"#)) {
            let name = String(text[match.range])
            let next = text[match.range.upperBound...].first { $0 != " " && $0 != "\n" }
            guard let first = name.first, !first.isNumber, first != ".", next != "(" else { continue }
            if !keywords.contains(name.lowercased()) { names.insert(name) }
        }
        return names
    }

    @Test func metricNamesAreReadFromExpressions() throws {
        #expect(
            try Self.metricNames(
                in:
                    #"sum by (datname, state) (rate(pg_stat_database_blks_hit{datname!~"template.*"}[5m])) / on (instance) max(up) or vector(0.95)"#
            ) == ["pg_stat_database_blks_hit", "up"])
        #expect(
            try Self.metricNames(in: "time() - sbs_backup_last_success_timestamp_seconds > 2 * 86400") == [
                "sbs_backup_last_success_timestamp_seconds"
            ])
    }

    /// Every metric a dashboard reads is one the stack exports: the exporters' (node, postgres, blackbox, Kong's
    /// plugin), Prometheus's `up`, and sbs's own, which sbs's sources write for the textfile collector.
    @Test func everyMetricIsOneTheStackExports() throws {
        let (_, files) = try Self.rendered(.recommendedCPU)
        var sources = ""
        let root = Repository.root + "/Sources"
        for path in try FileManager.default.subpathsOfDirectory(atPath: root) where path.hasSuffix(".swift") {
            sources += try String(contentsOfFile: root + "/" + path, encoding: .utf8)
        }
        for dashboard in try Self.dashboards(files) {
            for expr in dashboard.exprs {
                for name in try Self.metricNames(in: expr) {
                    if name.hasPrefix("sbs_") {
                        #expect(
                            sources.contains("\"\(name)\""),
                            "\(dashboard.path): \(name) is written nowhere in Sources/")
                    } else {
                        #expect(
                            name == "up" || ["node_", "pg_", "probe_", "kong_"].contains { name.hasPrefix($0) },
                            "\(dashboard.path): \(name) comes from no exporter of the stack")
                    }
                }
            }
        }
    }

    /// Each query as a recording rule (`$__rate_interval`, Grafana's, as 5m), checked by the real promtool.
    @Test(.requires("promtool", install: "apt-get install -y prometheus"))
    func everyQueryIsPromQLThatPromtoolAccepts() throws {
        let (_, files) = try Self.rendered(.recommendedCPU)
        var rules = "groups:\n  - name: dashboards\n    rules:\n"
        var count = 0
        for dashboard in try Self.dashboards(files) {
            for expr in dashboard.exprs {
                let query = expr.replacingOccurrences(of: "$__rate_interval", with: "5m")
                #expect(!query.contains("$"), "\(dashboard.path): a Grafana variable promtool cannot read: \(expr)")
                // A JSON string is a YAML double-quoted scalar (without `\/`, which YAML does not know).
                let quoted = String(
                    decoding: try JSONSerialization.data(
                        withJSONObject: query, options: [.fragmentsAllowed, .withoutEscapingSlashes]),
                    as: UTF8.self)
                rules += "      - record: dashboard:query\(count)\n        expr: \(quoted)\n"
                count += 1
            }
        }
        #expect(count > 0)
        let dir = try Scratch.folder("dashboard-rules")
        try rules.write(toFile: dir + "/rules.yml", atomically: true, encoding: .utf8)
        let checked = RealTools.run(["promtool", "check", "rules", dir + "/rules.yml"])
        #expect(checked.status == 0, "\(checked.output)")
        #expect(checked.output.contains("SUCCESS: \(count) rules found"), "\(checked.output)")
    }

    /// The stand-in Grafana (scripts/test/stand-ins/grafana/grafana.py) on a loopback port with the rendered
    /// `monitoring/grafana/` folder, the provider's path pointed at it: what `/api/search` lists, with the admin's
    /// login.
    static func listedDashboards(_ files: [RenderedFile]) async throws -> [[String: Any]] {
        let dir = try Scratch.folder("grafana")
        let password = "StandInGrafanaPassw0rd"
        for file in files where file.relativePath.hasPrefix("monitoring/grafana/") {
            let path = dir + "/" + file.relativePath.dropFirst("monitoring/grafana/".count)
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            var text = file.text
            if file.relativePath == providerFile {
                #expect(text.contains("path: /etc/sbs/grafana/dashboards\n"))
                text = text.replacingOccurrences(
                    of: "path: /etc/sbs/grafana/dashboards\n", with: "path: \(dir)/dashboards\n")
            }
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        let port = try freeLoopbackPort()
        let pid = try #require(
            spawnQuietly(
                ["python3", Repository.root + "/scripts/test/stand-ins/grafana/grafana.py"],
                environment: [
                    "GF_PATHS_CONFIG": dir + "/grafana.ini", "GF_PATHS_PROVISIONING": dir + "/provisioning",
                    "GF_PATHS_DATA": dir + "/data", "GF_SERVER_HTTP_ADDR": "127.0.0.1",
                    "GF_SERVER_HTTP_PORT": String(port), "GF_SECURITY_ADMIN_USER": "admin",
                    "GF_SECURITY_ADMIN_PASSWORD": password,
                ], ownProcessGroup: true))
        defer {
            kill(-pid, SIGKILL)
            _ = waitForExit(pid)
        }
        try await waitForListener(port)
        let url = "http://127.0.0.1:\(port)/api/search?type=dash-db"
        let anonymous = RealTools.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", url])
        #expect(anonymous.output == "401", "without a login: \(anonymous.output)")
        let wrong = RealTools.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-u", "admin:x", url])
        #expect(wrong.output == "401", "with a wrong password: \(wrong.output)")
        let search = RealTools.run(["curl", "-sS", "-f", "-u", "admin:\(password)", url])
        #expect(search.status == 0, "\(search.output)")
        let hits = try #require(
            try JSONSerialization.jsonObject(with: Data(search.output.utf8)) as? [[String: Any]], "\(search.output)")
        for hit in hits {
            let uid = try #require(hit["uid"] as? String)
            let one = RealTools.run([
                "curl", "-sS", "-f", "-u", "admin:\(password)", "http://127.0.0.1:\(port)/api/dashboards/uid/\(uid)",
            ])
            let body = try JSONSerialization.jsonObject(with: Data(one.output.utf8)) as? [String: Any]
            #expect((body?["dashboard"] as? [String: Any])?["title"] as? String == hit["title"] as? String, "\(uid)")
            #expect((body?["meta"] as? [String: Any])?["provisioned"] as? Bool == true, "\(uid)")
        }
        return hits
    }

    @Test(.requires("python3", "curl", install: "apt-get install -y python3 curl"))
    func theStandInGrafanaListsEveryDashboardAndLeavesOutABrokenOne() async throws {
        let (_, files) = try Self.rendered(.recommendedCPU)
        let dashboards = try Self.dashboards(files)
        let uids = dashboards.compactMap(\.uid).sorted()
        let hits = try await Self.listedDashboards(files)
        #expect(hits.compactMap { $0["uid"] as? String }.sorted() == uids)
        #expect(hits.allSatisfy { $0["folderTitle"] as? String == "Small Business Server" }, "\(hits)")

        // One dashboard cut short: Grafana logs it and lists the others.
        let broken = try #require(dashboards.first { $0.uid == "sbs-host" })
        let corrupted = files.map { file in
            file.relativePath == broken.path
                ? RenderedFile(relativePath: file.relativePath, bytes: Array(file.bytes.prefix(200)), mode: file.mode)
                : file
        }
        let partial = try await Self.listedDashboards(corrupted)
        #expect(partial.compactMap { $0["uid"] as? String }.sorted() == uids.filter { $0 != "sbs-host" })
    }
}
