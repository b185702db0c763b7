import Foundation
import Host
import SBSCore
import TestSupport
import Testing
import Yams

@testable import Render

/// The stack file of `target: swarm` (docker-stack.yml), read back with Yams (not sbs's own reader) and compared
/// with what the compose file of the same input says.
@Suite("Swarm stack file")
struct SwarmStackTests {
    /// A swarm input: the recommended profile with monitoring, Grafana, SMTP and mailed alerts (so Alertmanager's
    /// files hold credentials), API keys, 3 API and 2 web replicas.
    static func input(apiReplicas: Int = 3, webReplicas: Int = 2) throws -> (RenderInput, Secrets) {
        let table = try Repository.profileTable()
        let profile = try table.choose(for: facts(memoryMiB: 32000, cpus: 8), request: ProfileChoiceRequest())
        let smtp = SMTPSettings(
            host: try DomainName("smtp.example.com"), port: try Port(587), user: try SafeToken("mailer"),
            sender: try EmailAddress("noreply@example.com"))
        var input = try makeInput(
            profile: profile, aliases: ["www.shop.example.com"], backups: true, smtp: smtp)
        input.alerts = AlertsSettings(emails: [try EmailAddress("ops@example.com")], webhook: false)
        input.target = .swarm
        input.swarm = SwarmSettings(apiReplicas: apiReplicas, webReplicas: webReplicas)
        input.projectName = "sbs-0a1b2c3d"
        let secrets = try fixedSecrets(extra: [
            (.anthropicAPIKey, "sk-ant-api03-swarm"), (.openaiAPIKey, "sk-proj-swarm-openai"),
            (.smtpPassword, "smtp secret with $ and #"),
        ])
        return (input, secrets)
    }

    static func render(_ input: RenderInput, _ secrets: Secrets) throws -> [String: RenderedFile] {
        let files = try ConfigRenderer.render(input, secrets: secrets, templates: Repository.templates())
        return Dictionary(uniqueKeysWithValues: files.map { ($0.relativePath, $0) })
    }

    static func yaml(_ text: String) throws -> [String: Any] {
        try #require(try Yams.load(yaml: text) as? [String: Any])
    }

    /// The services of a rendered stack or compose file.
    static func services(_ document: [String: Any]) throws -> [String: [String: Any]] {
        try #require(document["services"] as? [String: [String: Any]])
    }

    /// The services whose tasks may run side by side during an update (no volume, no host port).
    static let startFirst: Set<String> = [
        "app-api", "app-web", "app-auth", "app-kong", "node-exporter", "postgres-exporter", "blackbox-exporter",
        "app-pooler",
    ]

    @Test func theStackFileHasTheSwarmsPartsAndNoneOfComposes() throws {
        let (input, secrets) = try Self.input()
        let files = try Self.render(input, secrets)
        #expect(files["docker-compose.yml"] == nil && files[".env"] == nil, "a swarm install writes neither")
        let stack = try Self.yaml(try #require(files["docker-stack.yml"]).text)
        #expect(stack["version"] as? String == "3.9")
        #expect(stack["name"] == nil)
        let services = try Self.services(stack)
        let running = StackService.allCases.filter { input.profile.runs($0) }.map(\.rawValue)
        #expect(
            Set(services.keys) == Set(running + ["app-pooler"]),
            "a stack holds only the services that run, and the pooler for its 3 API tasks")
        for (name, service) in services {
            for key in ["restart", "depends_on", "profiles", "security_opt", "tmpfs", "env_file"] {
                #expect(service[key] == nil, "\(name) has \(key), which a swarm ignores or refuses")
            }
            let deploy = try #require(service["deploy"] as? [String: Any], "\(name)")
            #expect(deploy["endpoint_mode"] as? String == "dnsrr", "\(name): no virtual IP (no IPVS needed)")
            let update = try #require(deploy["update_config"] as? [String: Any], "\(name)")
            #expect(update["failure_action"] as? String == "rollback", "\(name)")
            let order = Self.startFirst.contains(name) ? "start-first" : "stop-first"
            #expect(update["order"] as? String == order, "\(name)")
            #expect((deploy["rollback_config"] as? [String: Any])?["order"] as? String == order, "\(name)")
            #expect((deploy["restart_policy"] as? [String: Any])?["condition"] as? String == "any", "\(name)")
            let limits = try #require((deploy["resources"] as? [String: Any])?["limits"] as? [String: Any])
            let stackService = try #require(StackService(rawValue: name))
            #expect(limits["memory"] as? String == "\(input.profile.memoryLimitMiB(for: stackService))M", "\(name)")
            #expect(limits["pids"] as? Int == stackService.privileges.pidsLimit, "\(name)")
            // Nothing from the deploy folder is bind-mounted: its files are configs and secrets.
            for volume in service["volumes"] as? [Any] ?? [] {
                if let text = volume as? String { #expect(!text.hasPrefix("./"), "\(name) mounts \(text)") }
            }
        }
        let replicas = { (name: String) in ((services[name]?["deploy"] as? [String: Any])?["replicas"] as? Int) }
        #expect(replicas("app-api") == 3 && replicas("app-web") == 2)
        #expect(replicas("app-db") == nil, "app-db runs one task (the default)")
    }

    @Test func servicesArePlacedByNodeLabels() throws {
        let (input, secrets) = try Self.input()
        let services = try Self.services(
            try Self.yaml(try #require(Self.render(input, secrets)["docker-stack.yml"]).text))
        func constraints(_ name: String) -> [String] {
            (((services[name]?["deploy"] as? [String: Any])?["placement"] as? [String: Any])?["constraints"]
                as? [String]) ?? []
        }
        #expect(constraints("app-db") == ["node.labels.sbs.db == true"])
        #expect(constraints("nginx") == ["node.labels.sbs.ingress == true"])
        for name in ["prometheus", "alertmanager", "monitoring", "node-exporter", "blackbox-exporter"] {
            #expect(constraints(name) == ["node.labels.sbs.monitoring == true"], "\(name)")
        }
        for name in ["app-api", "app-web", "app-auth", "app-kong", "app-pooler"] {
            #expect(constraints(name).isEmpty, "\(name) may run on any node")
        }
        let labels = Set(services.keys.flatMap(constraints).map { String($0.split(separator: " ")[0]) })
        #expect(labels.isSubset(of: Set(SwarmSettings.placementLabels.map { "node.labels." + $0 })), "\(labels)")
    }

    @Test func networksAreOverlaysAndNginxIsPublishedInHostMode() throws {
        let (input, secrets) = try Self.input()
        let stack = try Self.yaml(try #require(Self.render(input, secrets)["docker-stack.yml"]).text)
        let networks = try #require(stack["networks"] as? [String: [String: Any]])
        #expect(Set(networks.keys) == ["edge", "backend", "egress"])
        for (name, network) in networks { #expect(network["driver"] as? String == "overlay", "\(name)") }
        #expect(networks["backend"]?["internal"] as? Bool == true)
        #expect((networks["backend"]?["driver_opts"] as? [String: Any])?["encrypted"] as? String == "true")
        #expect(networks["edge"]?["internal"] == nil && networks["egress"]?["internal"] == nil)
        let services = try Self.services(stack)
        let ports = try #require(services["nginx"]?["ports"] as? [[String: Any]])
        #expect(ports.count == 2)
        for port in ports { #expect(port["mode"] as? String == "host") }
        #expect(Set(ports.compactMap { $0["published"] as? Int }) == [input.httpPort.value, input.httpsPort.value])
        #expect(Set(ports.compactMap { $0["target"] as? Int }) == [80, 443])
        for (name, service) in services where name != "nginx" { #expect(service["ports"] == nil, "\(name)") }
    }

    /// Read-only roots keep their writable folders: a swarm service has no `tmpfs:`, so each is a tmpfs mount.
    @Test func everyWritableFolderIsATmpfsMount() throws {
        let (input, secrets) = try Self.input()
        let services = try Self.services(
            try Self.yaml(try #require(Self.render(input, secrets)["docker-stack.yml"]).text))
        for (name, service) in services {
            let privileges = try #require(StackService(rawValue: name)).privileges
            #expect((service["read_only"] as? Bool ?? false) == privileges.readOnly, "\(name)")
            let tmpfs = (service["volumes"] as? [Any] ?? []).compactMap { $0 as? [String: Any] }
                .filter { $0["type"] as? String == "tmpfs" }.compactMap { $0["target"] as? String }
            #expect(Set(tmpfs) == Set(privileges.writable.map(\.path)), "\(name)")
            #expect((service["cap_drop"] as? [String]) == ["ALL"], "\(name)")
            #expect(Set(service["cap_add"] as? [String] ?? []) == Set(privileges.capabilityNames), "\(name)")
        }
    }

    /// Every variable the compose file gives a service from a secret, the stack gives it too: as a Docker secret
    /// under /run/secrets/env (exported by the entrypoint's shell), exported from a secret by that shell (the
    /// database URLs), or as the image's own `*_FILE` variable. And no secret value is in the stack file.
    @Test func theServicesGetTheSameSecretsAsWithCompose() throws {
        let (swarmInput, secrets) = try Self.input()
        var composeInput = swarmInput
        composeInput.target = .compose
        let compose = try Self.services(
            try Self.yaml(try #require(Self.render(composeInput, secrets)["docker-compose.yml"]).text))
        let swarmFiles = try Self.render(swarmInput, secrets)
        let stackText = try #require(swarmFiles["docker-stack.yml"]).text
        let stack = try Self.yaml(stackText)
        let services = try Self.services(stack)
        let declared = try #require(stack["secrets"] as? [String: [String: Any]])
        for (name, service) in compose {
            let environment = service["environment"] as? [String: Any] ?? [:]
            let fromSecrets = Set(
                environment.filter { _, value in
                    secrets.names.contains { (value as? String ?? "").contains("${" + $0.value) }
                }.keys)
            guard let swarm = services[name] else { continue }
            var given: Set<String> = []
            for entry in swarm["secrets"] as? [Any] ?? [] {
                let source = (entry as? [String: Any])?["source"] as? String ?? entry as? String ?? ""
                #expect(declared[source] != nil, "\(name) uses the undeclared secret \(source)")
                if let target = (entry as? [String: Any])?["target"] as? String, target.hasPrefix("/run/secrets/env/") {
                    given.insert(String(target.dropFirst("/run/secrets/env/".count)))
                }
            }
            let swarmEnvironment = swarm["environment"] as? [String: Any] ?? [:]
            for key in swarmEnvironment.keys where key.hasSuffix("_FILE") {
                given.insert(String(key.dropLast(key.hasSuffix("__FILE") ? 6 : 5)))
            }
            let script = (swarm["entrypoint"] as? [String])?.dropFirst(2).first ?? ""
            for match in script.matches(of: /export ([A-Z_]+)=/) { given.insert(String(match.1)) }
            #expect(given == fromSecrets, "\(name): compose gives \(fromSecrets.sorted()), the stack \(given.sorted())")
            #expect(Set(swarmEnvironment.keys).isDisjoint(with: fromSecrets), "\(name) has a secret in its environment")
        }
        // Values: nowhere but in Alertmanager's files (0640, Docker secrets themselves).
        for file in swarmFiles.values where file.mode & 0o004 != 0 {
            for value in secrets.allValues {
                #expect(!file.text.contains(value), "\(file.relativePath) holds a secret")
            }
        }
    }

    /// The stack's secrets and configs: each named with a digest of its content, declared once, used by a service,
    /// and read back by `SwarmObjects.declared` as Yams reads them.
    @Test func secretsAndConfigsHaveVersionedNamesThatReadBack() throws {
        let (input, secrets) = try Self.input()
        let files = try Self.render(input, secrets)
        let text = try #require(files["docker-stack.yml"]).text
        let stack = try Self.yaml(text)
        let objects = try SwarmObjects(project: input.projectName, secrets: secrets)
        let declaredSecrets = try #require(stack["secrets"] as? [String: [String: Any]])
        let declaredConfigs = try #require(stack["configs"] as? [String: [String: Any]])
        var expectedSecrets: [String: String] = [:]
        for name in ConfigRenderer.swarmSecrets(input, secrets: secrets) {
            expectedSecrets[name.value] = objects.secret(name, value: try #require(secrets[name]))
        }
        for (path, file) in files where path.hasPrefix("monitoring/alertmanager/") {
            expectedSecrets[SwarmObjects.key(path)] = objects.file(path, bytes: file.bytes)
            #expect(declaredSecrets[SwarmObjects.key(path)]?["file"] as? String == "./" + path)
        }
        #expect(declaredSecrets.mapValues { $0["name"] as? String ?? "" } == expectedSecrets)
        for (key, secret) in declaredSecrets {
            let name = try #require(secret["name"] as? String)
            #expect(name.count <= 64 && name.hasPrefix(input.projectName + "_"), "\(name)")
            #expect((secret["external"] as? Bool == true) == (secret["file"] == nil), "\(key)")
        }
        for (key, config) in declaredConfigs {
            let path = String(try #require(config["file"] as? String).dropFirst(2))
            let file = try #require(files[path], "\(key) names \(path), which sbs does not write")
            #expect(config["name"] as? String == objects.file(path, bytes: file.bytes))
            #expect(file.mode & 0o004 != 0, "\(path) is readable by others: a config, not a secret")
        }
        #expect(files["backup/backup.sh"] == nil, "backup.sh dumps through docker compose")
        let mountable = files.keys.filter { $0 != "docker-stack.yml" }
        #expect(
            Set(mountable.map(SwarmObjects.key))
                == Set(declaredConfigs.keys).union(declaredSecrets.filter { $0.value["file"] != nil }.keys),
            "every rendered file reaches its service")
        // Used: each declared object is mounted by some service, each mount is declared.
        let services = try Self.services(stack)
        var used: Set<String> = []
        for service in services.values {
            for kind in ["secrets", "configs"] {
                for entry in service[kind] as? [Any] ?? [] {
                    used.insert((entry as? [String: Any])?["source"] as? String ?? entry as? String ?? "")
                }
            }
        }
        #expect(used == Set(declaredSecrets.keys).union(declaredConfigs.keys))
        let read = try SwarmObjects.declared(in: text)
        #expect(
            Dictionary(uniqueKeysWithValues: read.secrets.map { ($0.key, $0.name) })
                == declaredSecrets.mapValues { $0["name"] as? String ?? "" })
        #expect(
            Set(read.secrets.filter(\.external).map(\.key))
                == Set(declaredSecrets.filter { $0.value["external"] != nil }.keys))
        #expect(
            Dictionary(uniqueKeysWithValues: read.configs.map { ($0.key, $0.name) })
                == declaredConfigs.mapValues { $0["name"] as? String ?? "" })
    }

    /// A changed value is a new name for its secret alone; a changed file, for its config alone.
    @Test func aChangedValueRenamesOnlyItsObject() throws {
        let (input, secrets) = try Self.input()
        var changed = Secrets()
        for name in secrets.names {
            try changed.set(name, name == .postgresPassword ? "another-postgres-password-0123456789" : secrets[name]!)
        }
        let before = try SwarmObjects.declared(in: try #require(Self.render(input, secrets)["docker-stack.yml"]).text)
        let after = try SwarmObjects.declared(in: try #require(Self.render(input, changed)["docker-stack.yml"]).text)
        let renamed = zip(before.secrets, after.secrets).filter { $0.name != $1.name }.map(\.0.key)
        #expect(renamed == ["POSTGRES_PASSWORD"])
        var moreReplicas = input
        moreReplicas.swarm.apiReplicas = 5
        let sameObjects = try SwarmObjects.declared(
            in: try #require(Self.render(moreReplicas, secrets)["docker-stack.yml"]).text)
        #expect(sameObjects.secrets == before.secrets && sameObjects.configs == before.configs)
        var otherAlerts = input
        otherAlerts.alerts = AlertsSettings(emails: [try EmailAddress("other@example.com")], webhook: false)
        let newAlerts = try SwarmObjects.declared(
            in: try #require(Self.render(otherAlerts, secrets)["docker-stack.yml"]).text)
        #expect(
            zip(before.secrets, newAlerts.secrets).filter { $0.name != $1.name }.map(\.0.key)
                == ["monitoring_alertmanager_alertmanager.yml"])
        #expect(newAlerts.configs == before.configs)
    }

    /// PgBouncer stands between app-api and app-db exactly when app-api runs more than one task, on a swarm: the
    /// API's database URL names it, and its rendered configuration (read back as PgBouncer reads an INI file) agrees
    /// with the stack file on the port, the user list's path, the mount and the database behind it.
    @Test(arguments: [1, 2, 3])
    func aPoolerStandsBetweenTheAPITasksAndAppDB(apiReplicas: Int) throws {
        let (input, secrets) = try Self.input(apiReplicas: apiReplicas)
        var composeInput = input
        composeInput.target = .compose
        let compose = try Self.render(composeInput, secrets)
        #expect(compose["pooler/pgbouncer.ini"] == nil)
        #expect(try Self.services(try Self.yaml(try #require(compose["docker-compose.yml"]).text))["app-pooler"] == nil)

        let files = try Self.render(input, secrets)
        let services = try Self.services(try Self.yaml(try #require(files["docker-stack.yml"]).text))
        let apiScript = try #require((services["app-api"]?["entrypoint"] as? [String])?.dropFirst(2).first)
        let url = try #require(
            apiScript.firstMatch(of: /DATABASE_URL="postgresql:\/\/postgres:[^@]+@([a-z-]+):([0-9]+)\/postgres"/))
        guard apiReplicas > 1 else {
            #expect(services["app-pooler"] == nil && files["pooler/pgbouncer.ini"] == nil)
            #expect(url.1 == "app-db" && url.2 == "5432", "one task connects to app-db itself")
            return
        }
        let pooler = try #require(services["app-pooler"])
        let ini = try Self.ini(try #require(files["pooler/pgbouncer.ini"]).text)
        let settings = try #require(ini["pgbouncer"])
        let port = try #require(settings["listen_port"])
        #expect(url.1 == "app-pooler" && url.2 == Substring(port))
        #expect(ini["databases"] == ["*": "host=app-db port=5432"])
        #expect(settings["auth_type"] == "scram-sha-256" && settings["pool_mode"] == "transaction")
        // The user list: written by the entrypoint from the Docker secret, to a tmpfs of the service.
        let authFile = try #require(settings["auth_file"])
        let entrypoint = try #require(pooler["entrypoint"] as? [String])
        #expect(Array(entrypoint.prefix(2)) == ["/bin/sh", "-c"])
        // The script run by a real shell, with the secret and the tmpfs in a scratch folder (`$$` is the stack
        // file's `$`): the user list holds the password as PgBouncer reads a quoted value, a `"` doubled.
        let dir = try TemporaryDirectory()
        let password = #"pass"word-0123"#
        try Data(password.utf8).write(to: URL(fileURLWithPath: dir.path + "/POSTGRES_PASSWORD"))
        let script = entrypoint[2].replacing("$$", with: "$")
            .replacing("/run/secrets/POSTGRES_PASSWORD", with: dir.path + "/POSTGRES_PASSWORD")
            .replacing(authFile, with: dir.path + "/userlist")
        #expect(script != entrypoint[2].replacing("$$", with: "$"), "the script writes \(authFile)")
        let ran = RealTools.run(["/bin/sh", "-c", script, "sbs-secrets", "true"])
        #expect(ran.status == 0, "\(ran.output)")
        let userlist = try String(contentsOfFile: dir.path + "/userlist", encoding: .utf8)
        #expect(userlist == #""postgres" "pass""word-0123""# + "\n")
        let mode = try FileManager.default.attributesOfItem(atPath: dir.path + "/userlist")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let tmpfs = (pooler["volumes"] as? [[String: Any]] ?? []).filter { $0["type"] as? String == "tmpfs" }
        #expect(tmpfs.contains { authFile.hasPrefix(($0["target"] as? String ?? "-") + "/") })
        #expect(
            (pooler["secrets"] as? [[String: Any]])?.map { $0["target"] as? String } == [
                "/run/secrets/POSTGRES_PASSWORD"
            ])
        // The configuration PgBouncer is started with is the one mounted.
        let mounted = try #require((pooler["configs"] as? [[String: Any]])?.compactMap { $0["target"] as? String })
        #expect(mounted == [(pooler["command"] as? [String])?.last])
        // A share of app-db's connections for all the tasks together.
        let poolSize = try #require(settings["default_pool_size"])
        let pool = try #require(Int(poolSize))
        #expect(settings["max_db_connections"] == String(pool))
        #expect(pool == input.profile.postgres.maxConnections / 4 && pool < input.profile.postgres.maxConnections)
        let health = try #require((pooler["healthcheck"] as? [String: Any])?["test"] as? [String])
        #expect(health.contains("pg_isready") && health.contains(port))
        #expect((pooler["networks"] as? [String]) == ["backend"])
    }

    /// An INI file as PgBouncer reads it: `[section]`, `key = value`, `;` and `#` comments; an empty value stays.
    static func ini(_ text: String) throws -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var section = ""
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix(";") || line.hasPrefix("#") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast())
                continue
            }
            let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            try #require(parts.count == 2 && !section.isEmpty, "\(line)")
            sections[section, default: [:]][parts[0].trimmingCharacters(in: .whitespaces)] = parts[1]
                .trimmingCharacters(in: .whitespaces)
        }
        return sections
    }

    /// The stack file as it is reviewed: Tests/RenderTests/Golden/swarm/docker-stack.yml (RECORD_GOLDEN=1 writes it).
    @Test func theStackFileMatchesItsGoldenFile() throws {
        let (input, secrets) = try Self.input()
        let text = try #require(Self.render(input, secrets)["docker-stack.yml"]).text
        let path = RenderTests.goldenRoot + "/swarm/docker-stack.yml"
        if ProcessInfo.processInfo.environment["RECORD_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return
        }
        let golden = try #require(FileManager.default.contents(atPath: path), "no golden file: RECORD_GOLDEN=1")
        #expect(text == String(decoding: golden, as: UTF8.self), "re-record with RECORD_GOLDEN=1 if intended")
    }

    @Test func replicasOutsideTheRangeAreRefused() throws {
        var (input, secrets) = try Self.input()
        for replicas in [0, 21, -1] {
            input.swarm.apiReplicas = replicas
            #expect(throws: UserError.self) {
                try ConfigRenderer.render(input, secrets: secrets, templates: Repository.templates())
            }
        }
    }

    /// The docker client's own reading of the file (`docker stack config`, which needs no engine).
    @Test(.enabled(if: RealTools.dockerAvailable, "the docker client is not installed"))
    func dockerStackConfigAcceptsIt() throws {
        let (input, secrets) = try Self.input()
        let files = try Self.render(input, secrets)
        let dir = try TemporaryDirectory()
        for file in files.values {
            let path = dir.path + "/" + file.relativePath
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(file.bytes).write(to: URL(fileURLWithPath: path))
        }
        let result = RealTools.run(["docker", "stack", "config", "--compose-file", dir.path + "/docker-stack.yml"])
        #expect(result.status == 0, "\(result.output)")
        let resolved = try Self.yaml(result.output)
        let services = try Self.services(resolved)
        // docker reads `mode: 0440` as octal.
        let alertmanager = try #require(services["alertmanager"]?["secrets"] as? [[String: Any]])
        #expect(alertmanager.allSatisfy { $0["mode"] as? Int == 0o440 && $0["gid"] as? String == "65534" })
        let rendered = try Self.services(try Self.yaml(try #require(files["docker-stack.yml"]).text))
        #expect(Set(services.keys) == Set(rendered.keys))
    }
}
