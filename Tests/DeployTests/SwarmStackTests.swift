import SBSCore
import TestSupport
import Testing

@testable import Deploy

/// What sbs reads from a swarm's docker commands, and the commands it gives a person on a swarm.
@Suite struct SwarmStackReading {
    static let project = ComposeProject(name: "sbs-0a1b2c3d", directory: "/opt/sbs", target: .swarm)

    @Test func aTaskContainerIsReadAsItsServiceWithHealthAndPorts() throws {
        let line =
            "sbs-0a1b2c3d_nginx.1.kx2\trunning\tUp 3 minutes (healthy)\tsbs-0a1b2c3d_nginx\t0.0.0.0:443->443/tcp, :::443->443/tcp, 0.0.0.0:80->80/tcp"
        let container = try #require(SwarmStack.container(line, stack: "sbs-0a1b2c3d"))
        #expect(container.service == "nginx" && container.name == "sbs-0a1b2c3d_nginx.1.kx2")
        #expect(container.isReady)
        #expect(
            container.publishers == [
                .init(url: "0.0.0.0", targetPort: 443, publishedPort: 443),
                .init(url: "::", targetPort: 443, publishedPort: 443),
                .init(url: "0.0.0.0", targetPort: 80, publishedPort: 80),
            ])
        let starting = try #require(
            SwarmStack.container(
                "sbs-0a1b2c3d_app-db.1.x\trunning\tUp 2 seconds (health: starting)\tsbs-0a1b2c3d_app-db\t",
                stack: "sbs-0a1b2c3d"))
        #expect(starting.health == "starting" && !starting.isReady && starting.publishers.isEmpty)
        let unhealthy = try #require(
            SwarmStack.container(
                "sbs-0a1b2c3d_app-api.2.y\trunning\tUp 2 minutes (unhealthy)\tsbs-0a1b2c3d_app-api\t",
                stack: "sbs-0a1b2c3d"))
        #expect(unhealthy.health == "unhealthy" && !unhealthy.isReady)
        // Another stack's task, and a line that is not docker's, are not the stack's.
        #expect(
            SwarmStack.container("other_web.1.z\trunning\tUp\tother_web\t", stack: "sbs-0a1b2c3d") == nil)
        #expect(SwarmStack.container("garbage", stack: "sbs-0a1b2c3d") == nil)
    }

    @Test func containersOfAStackAreItsServicesAndComposesStayComposes() {
        let swarm = DockerInspect.stackService([
            "com.docker.stack.namespace": "sbs", "com.docker.swarm.service.name": "sbs_app-db",
        ])
        #expect(swarm.project == "sbs" && swarm.service == "app-db")
        let compose = DockerInspect.stackService([
            "com.docker.compose.project": "sbs", "com.docker.compose.service": "nginx",
        ])
        #expect(compose.project == "sbs" && compose.service == "nginx")
        #expect(DockerInspect.stackService(["com.docker.swarm.service.name": "sbs_app-db"]).project == nil)
        #expect(DockerInspect.stackService([:]).service == nil)
    }

    @Test func convergenceWantsEveryTaskHealthyAndNoUpdateUnderWay() {
        func service(_ running: Int, _ desired: Int, _ update: String = "") -> SwarmStack.Service {
            SwarmStack.Service(
                name: "app-api", running: running, desired: desired, updateState: update, updateStarted: "",
                image: "api")
        }
        #expect(service(2, 2).isConverged && service(2, 2, "completed").isConverged)
        #expect(!service(1, 2).isConverged && !service(0, 0).isConverged)
        for state in ["updating", "paused", "rollback_started", "rollback_completed", "rollback_paused"] {
            #expect(!service(2, 2, state).isConverged, "\(state)")
        }
    }

    @Test func aRemedyOnASwarmNamesTheSwarmsCommands() {
        let project = Self.project
        #expect(project.commandLine(["up", "-d"]) == "sbs install --from start-stack")
        #expect(
            project.commandLine(["logs", "--tail", "50", "app-db", "nginx"])
                == "docker service logs --tail 50 sbs-0a1b2c3d_app-db; docker service logs --tail 50 sbs-0a1b2c3d_nginx"
        )
        #expect(project.commandLine(["restart", "nginx"]) == "docker service update --force sbs-0a1b2c3d_nginx")
        #expect(
            project.commandLine(["exec", "ollama", "ollama", "pull", "llama3"])
                == "docker exec -it $(docker ps -q --filter label=com.docker.swarm.service.name=sbs-0a1b2c3d_ollama) ollama pull llama3"
        )
        var compose = project
        compose.target = .compose
        #expect(
            compose.commandLine(["restart", "nginx"]) == compose.command(["restart", "nginx"]).joined(separator: " "))
        #expect(
            project.composeFile == "/opt/sbs/docker-stack.yml" && compose.composeFile == "/opt/sbs/docker-compose.yml")
    }

    /// On a swarm, `exec` goes into this node's healthy task of the service; none there is an error that says where
    /// to look.
    @Test func execGoesIntoTheServicesTaskOnThisNode() async throws {
        let ps = [
            "docker", "ps", "--filter", "label=com.docker.stack.namespace=sbs-0a1b2c3d", "--format",
            "{{.Names}}\t{{.State}}\t{{.Status}}\t{{.Label \"com.docker.swarm.service.name\"}}\t{{.Ports}}",
        ]
        let listing = """
            sbs-0a1b2c3d_app-db.1.old\trunning\tUp 1 second (health: starting)\tsbs-0a1b2c3d_app-db\t
            sbs-0a1b2c3d_app-db.1.new\trunning\tUp 3 minutes (healthy)\tsbs-0a1b2c3d_app-db\t

            """
        let docker = ScriptedRunner([ps: ScriptedRunner.Reply.ok(listing).repeating])
        #expect(
            try await Self.project.exec("app-db", ["pg_isready"], runner: docker)
                == ["docker", "exec", "-i", "sbs-0a1b2c3d_app-db.1.new", "pg_isready"])
        await #expect(throws: UserError.self) {
            try await Self.project.exec("prometheus", ["true"], runner: docker)
        }
        let compose = ComposeProject(name: "sbs", directory: "/opt/sbs")
        #expect(
            try await compose.exec("app-db", ["pg_isready"], runner: RefusingRunner())
                == compose.command(["exec", "-T", "app-db", "pg_isready"]))
    }
}
