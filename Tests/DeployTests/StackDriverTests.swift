import Deploy
import Foundation
import Processes
import SBSCore
import Synchronization
import TestSupport
import Testing

@Suite struct ComposeCommandLines {
    let project = ComposeProject(name: "sbs", directory: "/opt/sbs")

    @Test func everyCommandNamesTheProjectItsFolderAndFile() {
        #expect(
            project.command(["ps"]) == [
                "docker", "compose", "--project-name", "sbs", "--project-directory", "/opt/sbs",
                "--file", "/opt/sbs/docker-compose.yml", "ps",
            ])
        let driver = ComposeDriver(project: project, runner: RefusingRunner(), profiles: ["monitoring", "ollama"]) {
            _ in
        }
        #expect(
            driver.command(["up", "--detach"]).suffix(6) == [
                "--profile", "monitoring", "--profile", "ollama", "up", "--detach",
            ])
        #expect(project.volume("postgres_data") == "sbs_postgres_data")
    }

    @Test func aRootOtherThanSlashGetsAProjectOfItsOwn() {
        #expect(ComposeProject.name(forRoot: "/") == "sbs")
        let a = ComposeProject.name(forRoot: "/tmp/sbs-demo/root")
        let b = ComposeProject.name(forRoot: "/tmp/sbs-e2e/root-minimum")
        #expect(a != b && a.hasPrefix("sbs-") && a.count == 12)
        #expect(a == ComposeProject.name(forRoot: "/tmp/sbs-demo/root"), "the name is stable across runs")
        // The same name the test scripts compute with sha256sum (scripts/test/stack-e2e.sh, project_of).
        #expect(b == "sbs-" + "8535cf7e")
    }

    @Test func theConfigHashIsReadFromTheLabels() throws {
        let line =
            #"{"Service":"nginx","Name":"sbs-nginx-1","State":"running","Health":"healthy","Labels":"com.docker.compose.depends_on=app-db:service_healthy:false,app-kong:service_healthy:false,com.docker.compose.config-hash=19293875713c03947228eb2f704208e739e7ef42862332e4e998ebb8ba8127e3,com.docker.compose.project=sbs"}"#
        let container = try #require(try ComposeContainer.parse(line).first)
        #expect(container.configHash == "19293875713c03947228eb2f704208e739e7ef42862332e4e998ebb8ba8127e3")
        let none = try #require(try ComposeContainer.parse(#"{"Service":"web","State":"running"}"#).first)
        #expect(none.configHash == nil)
        // What sbs encodes it reads back.
        let again = try ComposeContainer.parse(String(decoding: try JSONEncoder().encode(container), as: UTF8.self))
        #expect(again == [container])
    }

    @Test func anUpToDateStackIsOnlyOneWhoseEveryServiceRunsHealthyFromTheCurrentSettings() async throws {
        let ps = """
            {"Service":"app-db","Name":"db","State":"running","Health":"healthy","Labels":"com.docker.compose.config-hash=aaa1"}
            {"Service":"nginx","Name":"nx","State":"running","Health":"healthy","Labels":"com.docker.compose.config-hash=bbb2"}
            """
        func driver(hashes: String, ps: String) -> ComposeDriver {
            ComposeDriver(
                project: project,
                runner: ScriptedRunner([
                    project.command(["config", "--hash", "*"]): .ok(hashes),
                    project.command(["ps", "--all", "--format", "json"]): .ok(ps),
                ]), profiles: []
            ) { _ in }
        }
        func upToDate(_ driver: ComposeDriver, _ services: [String]) async throws -> Bool {
            try await driver.isUpToDate(services, hashes: try await driver.configHashes())
        }
        #expect(try await upToDate(driver(hashes: "app-db aaa1\nnginx bbb2\n", ps: ps), ["app-db", "nginx"]))
        #expect(
            try await !upToDate(driver(hashes: "app-db aaa1\nnginx ccc3\n", ps: ps), ["app-db", "nginx"]),
            "a changed setting")
        #expect(
            try await !upToDate(
                driver(hashes: "app-db aaa1\nnginx bbb2\nweb ddd4\n", ps: ps), ["app-db", "nginx", "web"]),
            "a service without a container")
        let unhealthy = ps.replacingOccurrences(
            of: #""Name":"nx","State":"running","Health":"healthy""#,
            with: #""Name":"nx","State":"running","Health":"unhealthy""#)
        #expect(
            try await !upToDate(driver(hashes: "app-db aaa1\nnginx bbb2\n", ps: unhealthy), ["app-db", "nginx"]),
            "an unhealthy one")
    }
}

@Suite struct OllamaPullProgress {
    @Test func modelsAlreadyPresentAreNotPulledAndANameWithoutATagIsLatest() throws {
        let present = try OllamaModels.names(
            inTags: Array(#"{"models":[{"name":"mistral:7b","size":1},{"name":"phi3:latest"}]}"#.utf8))
        #expect(present == ["mistral:7b", "phi3:latest"])
        #expect(OllamaModels.missing(["mistral:7b", "phi3", "llama3.1:8b"], present: present) == ["llama3.1:8b"])
        #expect(throws: UserError.self) { try OllamaModels.names(inTags: Array("<html>".utf8)) }
    }

    @Test func linesSplitAcrossChunksAreReadWhole() {
        let body =
            #"{"status":"pulling manifest"}"# + "\n"
            + #"{"status":"pulling sha256:abc","digest":"sha256:abc","total":1000,"completed":500}"# + "\n"
            + #"{"error":"pull model manifest: file does not exist"}"# + "\n" + "not json\n"
        let bytes = Array(body.utf8)
        // Every split point gives the same events.
        var whole = OllamaModels.PullStream()
        let expected = whole.feed(bytes)
        #expect(expected.count == 4)
        #expect(
            expected[1]
                == OllamaModels.PullEvent(
                    status: "pulling sha256:abc", digest: "sha256:abc", total: 1000, completed: 500))
        #expect(expected[2].error == "pull model manifest: file does not exist")
        #expect(expected[3].error?.hasPrefix("unreadable progress line") == true)
        for split in 1..<bytes.count {
            var stream = OllamaModels.PullStream()
            #expect(
                stream.feed(Array(bytes[..<split])) + stream.feed(Array(bytes[split...])) == expected,
                "split at \(split)")
        }
    }

    @Test func progressIsALineEachTenPercentNotOnePerEvent() {
        var reporter = OllamaModels.ProgressReporter()
        var lines: [String] = []
        if let line = reporter.line(for: .init(status: "pulling manifest"), model: "m") { lines.append(line) }
        for completed in stride(from: Int64(0), through: 4_100_000_000, by: 10_000_000) {
            let event = OllamaModels.PullEvent(
                status: "pulling sha256:1234", digest: "sha256:1234", total: 4_100_000_000, completed: completed)
            if let line = reporter.line(for: event, model: "m") { lines.append(line) }
        }
        if let line = reporter.line(for: .init(status: "success"), model: "m") { lines.append(line) }
        #expect(lines.first == "m: pulling manifest")
        #expect(lines.last == "m: success")
        #expect(lines.count == 1 + 11 + 1, "\(lines)")
        #expect(lines.contains("m: [##########] 100 % of 4.1 GB (sha256:1234)"))
        #expect(lines.contains("m: [#####.....] 50 % of 4.1 GB (sha256:1234)"))
    }
}

/// What a hostile or broken Ollama can send: numbers near Int64.max, and a line with no end in sight.
@Suite struct OllamaPullHostileInput {
    func event(total: Int64, completed: Int64?) -> OllamaModels.PullEvent {
        OllamaModels.PullEvent(status: "pulling sha256:1234", digest: "sha256:1234", total: total, completed: completed)
    }

    @Test func hugeAndNegativeNumbersGiveAPercentageWithoutOverflow() {
        let max = Int64.max
        let cases: [(total: Int64, completed: Int64?, percent: Int)] = [
            (max, max, 100), (max, max - 1, 90), (max, max / 2, 40), (max, max / 10, 0), (max, max / 10 + 1, 10),
            (1000, max, 100), (1000, Int64.min, 0), (1000, -1, 0), (max, nil, 0), (max, 0, 0),
        ]
        for (total, completed, percent) in cases {
            var reporter = OllamaModels.ProgressReporter()
            let line = reporter.line(for: event(total: total, completed: completed), model: "m")
            #expect(
                line?.contains(" \(percent) % of ") == true, "\(total) \(String(describing: completed)): \(line ?? "")")
        }
    }

    @Test func anOverLongLineIsReportedAndSkippedToItsEndAcrossChunks() {
        let long = [UInt8](repeating: UInt8(ascii: "x"), count: OllamaModels.PullStream.maximumLineLength + 1)
        var stream = OllamaModels.PullStream()
        // The line goes past the limit in its first chunk; its tail, in the next, looks like a line of its own.
        var events = stream.feed(long)
        events += stream.feed(Array(#"{"status":"success"}"#.utf8))
        events += stream.feed(Array("\n".utf8) + Array(#"{"status":"pulling manifest"}"#.utf8) + [10])
        #expect(events.count == 2, "\(events)")
        #expect(
            events.first?.error
                == "a progress line longer than 64 KiB (Ollama's are under 200 bytes); it was skipped to its end")
        #expect(events.last == OllamaModels.PullEvent(status: "pulling manifest"))
        #expect(!events.contains { $0.status == "success" })

        // Whole in one chunk, with the next line after it: reported, and the next line read.
        var whole = OllamaModels.PullStream()
        let one = whole.feed(long + [10] + Array(#"{"status":"success"}"#.utf8) + [10])
        #expect(one.map(\.error) == [events.first?.error, nil])
        #expect(one.last?.status == "success")

        // A line of exactly the limit is read.
        var exact = OllamaModels.PullStream()
        let padded = Array(#"{"status":"ok"}"#.utf8)
        let line = padded + [UInt8](repeating: 32, count: OllamaModels.PullStream.maximumLineLength - padded.count)
        #expect(exact.feed(line + [10]) == [OllamaModels.PullEvent(status: "ok")])
    }
}

@Suite struct RegistryCredentials {
    @Test func theClientConfigHoldsTheCredentialsAsDockerLoginWouldAndOnlyForTheServer() throws {
        let dir = Scratch.path("registry")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let password = "p@ss:word \"quoted\" ü"
        let login = RegistryLogin(
            server: "registry.example.com:5000", user: "deploy", password: password, configDirectory: dir + "/docker")
        try login.writeConfig()
        let text = try String(contentsOfFile: dir + "/docker/config.json", encoding: .utf8)
        #expect(!text.contains(password))
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: [String: [String: String]]])
        #expect(Array(json["auths"]?.keys ?? [:].keys) == ["registry.example.com:5000"])
        let auth = try #require(json["auths"]?["registry.example.com:5000"]?["auth"])
        #expect(String(decoding: try #require(Data(base64Encoded: auth)), as: UTF8.self) == "deploy:" + password)
        let fileMode = try #require(
            try FileManager.default.attributesOfItem(atPath: dir + "/docker/config.json")[.posixPermissions] as? Int)
        let dirMode = try #require(
            try FileManager.default.attributesOfItem(atPath: dir + "/docker")[.posixPermissions] as? Int)
        #expect(fileMode == 0o600 && dirMode == 0o700)
    }
}

/// Records every command and answers each with `status`.
final class RecordingRunner: CommandRunner {
    let commands = Mutex<[[String]]>([])
    let status: Int32
    init(status: Int32) { self.status = status }

    func run(_ argv: [String], timeout: Duration) async throws(UserError) -> CommandResult {
        commands.withLock { $0.append(argv) }
        return CommandResult(status: status, stdout: "", stderr: "")
    }
}

@Suite struct ImageCommandLines {
    // Issue 15: an image name reaches docker after `--`, so even a name starting with '-' is never an option
    // (docker's CLI takes `--` as the end of options: `docker pull -- --help` reads --help as the image).
    @Test func imageNamesFollowTheEndOfOptions() async throws {
        let inspecting = RecordingRunner(status: 1)
        let driver = ComposeDriver(
            project: ComposeProject(name: "sbs", directory: "/opt/sbs"), runner: inspecting, profiles: []
        ) { _ in }
        await #expect(throws: UserError.self) { try await driver.ensureImages(["--help", "nginx:1"]) }
        let commands = inspecting.commands.withLock { $0 }
        #expect(commands.first == ["docker", "image", "inspect", "--format", "{{.Id}}", "--", "--help"], "\(commands)")
        #expect(commands.contains(["docker", "pull", "--quiet", "--", "--help"]), "\(commands)")
        for argv in commands where argv.contains("--help") || argv.contains("nginx:1") {
            #expect(argv[argv.count - 2] == "--", "\(argv)")
        }
    }
}
