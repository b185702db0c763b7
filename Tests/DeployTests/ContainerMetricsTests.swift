import Deploy
import Foundation
import SBSCore
import TestSupport
import Testing

@testable import Deploy

/// `sbs metrics`: `docker inspect` read into the containers' states, and the samples written from them, which
/// Prometheus' own parser accepts (`promtool check metrics`). The real engine's output is read in the end-to-end
/// run (scripts/test/stack-e2e.sh, 2i: a crashed exporter's restart, a stopped app-web).
@Suite struct ContainerMetricsReading {
    /// `docker inspect` of six containers as Docker 24+ prints them (fields sbs does not read trimmed, a few kept
    /// to show they are ignored): healthy app-db restarted twice, app-web stopped, app-auth running but failing
    /// its healthcheck, kong without a healthcheck, a never started one, and a container that is not compose's.
    static let inspect = """
        [
          {"Id": "a1", "Created": "2026-12-06T10:00:00.5Z", "Name": "/sbs-app-db-1", "RestartCount": 2,
           "State": {"Status": "running", "Running": true, "Paused": false, "Restarting": false, "Pid": 4242,
                     "ExitCode": 0, "StartedAt": "2026-12-06T16:10:01.123456789Z", "FinishedAt": "0001-01-01T00:00:00Z",
                     "Health": {"Status": "healthy", "FailingStreak": 0, "Log": []}},
           "Config": {"Image": "supabase/postgres:15.1.0.117",
                      "Labels": {"com.docker.compose.project": "sbs", "com.docker.compose.service": "app-db"}}},
          {"Id": "b2", "Name": "/sbs-app-web-1", "RestartCount": 0,
           "State": {"Status": "exited", "Running": false, "ExitCode": 137, "StartedAt": "2026-12-06T16:00:00Z",
                     "FinishedAt": "2026-12-06T16:20:00Z", "Health": {"Status": "unhealthy", "FailingStreak": 3}},
           "Config": {"Labels": {"com.docker.compose.project": "sbs", "com.docker.compose.service": "app-web"}}},
          {"Id": "f6", "Name": "/sbs-app-auth-1", "RestartCount": 0,
           "State": {"Status": "running", "Running": true, "StartedAt": "2026-12-06T16:00:00Z",
                     "Health": {"Status": "unhealthy", "FailingStreak": 4}},
           "Config": {"Labels": {"com.docker.compose.project": "sbs", "com.docker.compose.service": "app-auth"}}},
          {"Id": "c3", "Name": "/sbs-app-kong-1", "RestartCount": 0,
           "State": {"Status": "running", "Running": true, "StartedAt": "2026-12-06T16:00:00.5Z"},
           "Config": {"Labels": {"com.docker.compose.project": "sbs", "com.docker.compose.service": "app-kong"}}},
          {"Id": "d4", "Name": "/sbs-ollama-1", "RestartCount": 0,
           "State": {"Status": "created", "Running": false, "StartedAt": "0001-01-01T00:00:00Z"},
           "Config": {"Labels": {"com.docker.compose.project": "sbs", "com.docker.compose.service": "ollama"}}},
          {"Id": "e5", "Name": "/someone-elses", "RestartCount": 9,
           "State": {"Status": "running", "Running": true, "StartedAt": "2026-12-06T16:00:00Z"},
           "Config": {"Labels": null}}
        ]
        """

    @Test func inspectIsReadIntoEachComposeContainersState() throws {
        let containers = try ContainerMetrics.parse(Self.inspect)
        #expect(containers.map(\.service) == ["app-db", "app-web", "app-auth", "app-kong", "ollama"])
        let db = containers[0]
        #expect(db.name == "sbs-app-db-1" && db.running && db.health == "healthy" && db.restartCount == 2)
        #expect(db.isHealthy)
        let started = try #require(db.startedAt).timeIntervalSince1970
        #expect(abs(started - (1_796_573_401 + 0.123456789)) < 1e-6, "\(started)")
        #expect(!containers[1].running && !containers[1].isHealthy)
        #expect(containers[2].running && containers[2].health == "unhealthy" && !containers[2].isHealthy)
        #expect(containers[3].health == nil && containers[3].isHealthy)
        #expect(containers[3].startedAt?.timeIntervalSince1970 == 1_796_572_800.5)
        #expect(containers[4].startedAt == nil && !containers[4].isHealthy)
    }

    @Test func whatCannotBeReadIsAnErrorQuotingIt() {
        #expect(throws: UserError.self) { try ContainerMetrics.parse("Error: No such container: x") }
        #expect(throws: UserError.self) { try ContainerMetrics.parse("[{\"Name\": \"/x\"}]") }
    }

    @Test(
        arguments: [
            ("2026-12-06T16:10:01Z", 1_796_573_401.0), ("2026-12-06T16:10:01.5Z", 1_796_573_401.5),
            ("0001-01-01T00:00:00Z", nil), ("2026-12-06T16:10:01+01:00", nil), ("yesterday", nil),
            ("2026-12-06T16:10:01,5Z", nil),
        ] as [(String, Double?)])
    func dockerTimesAreRead(_ text: String, _ expected: Double?) {
        #expect(ContainerMetrics.timestamp(text)?.timeIntervalSince1970 == expected, "\(text)")
    }

    @Test func theSamplesNameEachContainerAndAreInPrometheusFormat() throws {
        let containers = try ContainerMetrics.parse(Self.inspect)
        let samples = ContainerMetrics.samples(containers, now: Date(timeIntervalSince1970: 1_796_574_000))
        func value(_ name: String, _ service: String) -> Double? {
            let found = samples.filter { $0.name == name && $0.labels.first?.1 == service }
            return found.count == 1 ? found[0].value : nil
        }
        #expect(value("sbs_service_running", "app-db") == 1 && value("sbs_service_running", "app-web") == 0)
        #expect(value("sbs_service_healthy", "app-db") == 1 && value("sbs_service_healthy", "app-web") == 0)
        #expect(value("sbs_service_healthy", "app-kong") == 1 && value("sbs_service_healthy", "ollama") == 0)
        #expect(value("sbs_service_running", "app-auth") == 1 && value("sbs_service_healthy", "app-auth") == 0)
        #expect(value("sbs_service_restarts_total", "app-db") == 2)
        #expect(value("sbs_service_start_time_seconds", "app-db") == 1_796_573_401)
        #expect(value("sbs_service_start_time_seconds", "ollama") == nil)
        #expect(
            samples.last
                == .init(
                    "sbs_containers_read_timestamp_seconds", help: "When sbs metrics last read the stack's containers.",
                    value: 1_796_574_000))
        #expect(samples.first { $0.name == "sbs_service_running" }?.labels.map(\.0) == ["service", "container"])

        // A service the stack runs without a container (removed, or never created): not running, no restarts.
        let withMissing = ContainerMetrics.samples(
            containers, services: ["app-db", "app-web", "nginx"], now: Date(timeIntervalSince1970: 1_796_574_000))
        let nginx = withMissing.filter { $0.labels.first?.1 == "nginx" }
        #expect(nginx.map(\.name) == ["sbs_service_running", "sbs_service_healthy"], "\(nginx)")
        #expect(nginx.allSatisfy { $0.value == 0 && $0.labels.map(\.1) == ["nginx", ""] })
        #expect(withMissing.filter { $0.labels.first?.1 == "app-db" }.count == 4)

        try Integration.require(tools: "promtool", install: "apt-get install -y prometheus")
        let file = Scratch.path("containers.prom")
        try TextfileMetrics.render(samples).write(toFile: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "promtool check metrics <\"$0\"", file]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let said = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(said)")
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.contains("# TYPE sbs_service_restarts_total counter\n"), "\(text)")
    }
}

/// `docker inspect` as both readers run it: a container that went away since it was listed is left out, any other
/// failure is an error naming docker's words.
@Suite struct DockerInspectRunning {
    struct Named: Decodable, Equatable { var Name: String }

    @Test func aContainerGoneSinceItWasListedIsLeftOutAndOtherFailuresAreErrors() async throws {
        let argv = ["docker", "inspect", "--type", "container", "a", "b"]
        let gone = ScriptedRunner([
            argv: .exit(1, stderr: "Error: No such container: b\n", stdout: #"[{"Name":"/a"}]"#)
        ])
        #expect(try await DockerInspect.containers(["a", "b"], as: Named.self, runner: gone) == [Named(Name: "/a")])
        let down = ScriptedRunner([
            argv: .exit(1, stderr: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock\n")
        ])
        let error = await #expect(throws: UserError.self) {
            try await DockerInspect.containers(["a", "b"], as: Named.self, runner: down)
        }
        #expect(error?.message.contains("Cannot connect to the Docker daemon") == true)
        // Nothing to inspect: docker is not asked (the runner would fail on any command).
        #expect(try await DockerInspect.containers([], as: Named.self, runner: ScriptedRunner([:])).isEmpty)
    }
}
