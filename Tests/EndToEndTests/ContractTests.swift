import Foundation
import TestSupport
import Testing
import Yams

/// What a re-run does with a server that drifted, and what sbs writes it can read back.
@Suite(.serialized) struct RepairAndRoundTrip {
    func install(_ root: String, _ host: String, through: String = "write-configs", file: String? = nil) async throws
        -> Run
    {
        try await sbs(
            [
                "install", "--answers", file ?? root + "/site.yaml", "--non-interactive", "--through", through,
                "--root", root, "--sysroot", host,
            ], environment: testEnvironment)
    }

    @Test func missingOrEditedConfigFilesAreWrittenAgainAndShownAsDrift() async throws {
        let root = scratchDirectory("drift")
        let host = try fixtureHost()
        try writeAnswers(root + "/site.yaml")
        #expect(try await install(root, host).status == 0)
        let deploy = root + "/opt/sbs"
        let before = tree(deploy)
        try FileManager.default.removeItem(atPath: deploy + "/.env")
        let edited = (read(deploy + "/nginx/nginx.conf") ?? "") + "# a hand edit\n"
        try edited.write(toFile: deploy + "/nginx/nginx.conf", atomically: true, encoding: .utf8)

        let status = try await sbs(["status", "--root", root])
        #expect(
            status.stdout.contains("drift: \(deploy)/.env missing, \(deploy)/nginx/nginx.conf changed"),
            "\(status.stdout)")
        let json = try await sbs(["status", "--json", "--root", root])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let writeConfigs = (object?["steps"] as? [[String: Any]])?.first { $0["id"] as? String == "write-configs" }
        #expect(
            writeConfigs?["drift"] as? [String] == ["\(deploy)/.env missing", "\(deploy)/nginx/nginx.conf changed"])

        let repair = try await install(root, host)
        #expect(repair.status == 0, "\(repair.stderr)")
        #expect(
            repair.stderr.contains(
                "▶ write-configs: Write docker compose, nginx, kong, .env and monitoring files (drift: \(deploy)/.env missing, \(deploy)/nginx/nginx.conf changed)"
            ), "\(repair.stderr)")
        #expect(tree(deploy) == before)
        let mode = try FileManager.default.attributesOfItem(atPath: deploy + "/.env")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // The hand edit was kept in a backup before it was replaced.
        let backups = try FileManager.default.contentsOfDirectory(atPath: root + "/var/lib/sbs/backups")
        #expect(backups.contains { read(root + "/var/lib/sbs/backups/\($0)/nginx/nginx.conf") == edited })

        let settled = try await install(root, host)
        #expect(ranSteps(settled) == ["detect-hardware"], "\(settled.stderr)")
        #expect(!(try await sbs(["status", "--root", root])).stdout.contains("drift: "))
    }

    @Test func aLostSecretsFileIsRecoveredNeverReplacedByNewValues() async throws {
        let root = scratchDirectory("lost-secrets")
        let host = try fixtureHost()
        try writeAnswers(root + "/site.yaml")
        #expect(try await install(root, host).status == 0)
        let secretsFile = root + "/etc/sbs/secrets.env"
        let original = try #require(read(secretsFile))
        let env = try #require(read(root + "/opt/sbs/.env"))

        try FileManager.default.removeItem(atPath: secretsFile)
        let recovered = try await install(root, host)
        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(recovered.stderr.contains("recovered POSTGRES_PASSWORD, JWT_SECRET"), "\(recovered.stderr)")
        #expect(Set((read(secretsFile) ?? "").split(separator: "\n")) == Set(original.split(separator: "\n")))
        #expect(read(root + "/opt/sbs/.env") == env, "the deploy .env changed")

        // With the password gone from both files, sbs refuses instead of making a new one.
        try FileManager.default.removeItem(atPath: secretsFile)
        let stripped = env.split(separator: "\n", omittingEmptySubsequences: false).filter {
            !$0.hasPrefix("POSTGRES_PASSWORD=")
        }
        try stripped.joined(separator: "\n").write(toFile: root + "/opt/sbs/.env", atomically: true, encoding: .utf8)
        let refused = try await install(root, host)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("Step generate-secrets failed"), "\(refused.stderr)")
        #expect(refused.stderr.contains("has no POSTGRES_PASSWORD"), "\(refused.stderr)")
        #expect(!(read(secretsFile) ?? "").contains("POSTGRES_PASSWORD"), "a new database password was made")
    }

    @Test func everyLiteralSecretIsKeptAndTheStoredAnswersReadBack() async throws {
        let root = scratchDirectory("literal")
        let host = try fixtureHost()
        let file = root + "/site.yaml"
        try """
        version: 1
        domain: shop.example.test
        admin_email: admin@example.test
        tls:
          mode: acme
          eab:
            kid: kid-0042
            hmac_key: c2JzLWVhYi1obWFjLWtleS0wMDQyLXRlc3Q
        secrets:
          anthropic_api_key: sk-literal-anthropic-0042
        smtp:
          host: mail.example.test
          password: smtp-literal-password
        checks:
          dns: skip
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let run = try await install(root, host, through: "generate-secrets", file: file)
        #expect(run.status == 0, "\(run.stderr)")
        let secrets = try #require(read(root + "/etc/sbs/secrets.env"))
        for line in [
            "ACME_EAB_HMAC_KEY=c2JzLWVhYi1obWFjLWtleS0wMDQyLXRlc3Q", "ANTHROPIC_API_KEY=sk-literal-anthropic-0042",
            "SMTP_PASSWORD=smtp-literal-password",
        ] {
            #expect(secrets.contains(line + "\n"), "\(line.prefix(18)) not kept")
        }
        let stored = try #require(read(root + "/etc/sbs/answers.yaml"))
        #expect(!stored.contains("sk-literal") && !stored.contains("c2JzLWVhYi") && !stored.contains("smtp-literal"))

        #expect(try await sbs(["answers", "validate", "--root", root, root + "/etc/sbs/answers.yaml"]).status == 0)
        let plan = try await sbs(["plan", "--root", root])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("generate-secrets    up-to-date"), "\(plan.stdout)")
        let export = try await sbs(["answers", "export", "--root", root, "--include-secrets"])
        let exported = try Yams.load(yaml: export.stdout) as? [String: Any]
        #expect(
            ((exported?["tls"] as? [String: Any])?["eab"] as? [String: Any])?["hmac_key"] as? String
                == "c2JzLWVhYi1obWFjLWtleS0wMDQyLXRlc3Q", "\(export.stdout)")
        #expect(
            (exported?["smtp"] as? [String: Any])?["password"] as? String == "smtp-literal-password", "\(export.stdout)"
        )
        #expect(
            (exported?["secrets"] as? [String: Any])?["anthropic_api_key"] as? String == "sk-literal-anthropic-0042",
            "\(export.stdout)")
        let resume = try await sbs(["resume", "--root", root])
        #expect(resume.status == 0, "\(resume.stderr)")
        #expect(ranSteps(resume).isEmpty, "\(resume.stderr)")
        #expect(resume.stderr.contains("= generate-secrets: up to date"), "\(resume.stderr)")
    }

    @Test func secretsShowListsNamesAndPrintsOneValueOnlyWhenAsked() async throws {
        let root = scratchDirectory("secrets-show")
        let host = try fixtureHost()
        try writeAnswers(root + "/site.yaml")
        #expect(try await install(root, host, through: "generate-secrets").status == 0)
        let stored = try #require(read(root + "/etc/sbs/secrets.env"))
        let grafana = try #require(
            stored.split(separator: "\n").first { $0.hasPrefix("GRAFANA_ADMIN_PASSWORD=") }?.dropFirst(23))
        let list = try await sbs(["secrets", "show", "--root", root])
        #expect(list.status == 0)
        #expect(list.stdout.contains("  GRAFANA_ADMIN_PASSWORD\n") && list.stdout.contains("  POSTGRES_PASSWORD\n"))
        #expect(!list.stdout.contains(String(grafana)), "listing printed a value")
        let one = try await sbs(["secrets", "show", "GRAFANA_ADMIN_PASSWORD", "--root", root])
        #expect(one.stdout == grafana + "\n")
        let unknown = try await sbs(["secrets", "show", "NOPE", "--root", root])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("There is no secret 'NOPE'"))
    }

    @Test func whatAnInstallWouldRefuseValidateRefusesAndNothingIsWritten() async throws {
        let dir = scratchDirectory("refuse")
        let file = dir + "/site.yaml"
        // The domain again as an alias, in other letters: one name on the certificate, listed twice.
        try writeAnswers(file)
        let text = (read(file) ?? "").replacingOccurrences(
            of: "aliases: [www.shop.example.test]", with: "aliases: [www.shop.example.test, Shop.Example.TEST]")
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let validate = try await sbs(["answers", "validate", file], environment: testEnvironment)
        #expect(validate.status != 0)
        #expect(
            validate.stderr.contains("site.yaml:3:34: aliases: 'Shop.Example.TEST' is the domain itself"),
            "\(validate.stderr)")
        let install = try await sbs(
            ["install", "--answers", file, "--non-interactive", "--root", dir + "/root"], environment: testEnvironment)
        #expect(install.status != 0)
        #expect(!FileManager.default.fileExists(atPath: dir + "/root"), "a refused install wrote files")

        // A CA bundle that is not there, or not PEM, is refused with its place in the file.
        try writeAnswers(file)
        let withBundle = (read(file) ?? "").replacingOccurrences(
            of: "  mode: acme", with: "  mode: acme\n  acme_ca_bundle: \(dir)/bundle.pem")
        try withBundle.write(toFile: file, atomically: true, encoding: .utf8)
        try "not a certificate".write(toFile: dir + "/bundle.pem", atomically: true, encoding: .utf8)
        let bundle = try await sbs(["answers", "validate", file], environment: testEnvironment)
        #expect(bundle.status != 0)
        #expect(
            bundle.stderr.contains(
                "site.yaml:9:19: tls.acme_ca_bundle: \(dir)/bundle.pem is not a PEM bundle of CA certificates"),
            "\(bundle.stderr)")

        // A root the configuration cannot name (a space in a path the stack mounts) is refused the same way.
        try writeAnswers(file)
        let spaced = try await sbs(
            ["install", "--answers", file, "--non-interactive", "--root", dir + "/with space"],
            environment: testEnvironment)
        #expect(spaced.status != 0)
        // Refused for the space, naming the path that holds it (the folder's own name contains "space": a message
        // is read whole, not searched for a word).
        #expect(
            spaced.stderr.split(separator: "\n").first.map(String.init)
                == "Error: The certificate folder '\(dir)/with space/etc/sbs/ssl' contains a space, which could break a generated file.",
            "\(spaced.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/with space"))
    }
}

/// ensure-docker against the Docker engine of this machine (`scripts/test/docker-env.sh start` starts one).
@Suite struct DockerEngine {
    @Test func ensureDockerFindsTheRunningEngineAndComposeAndChangesNothing() async throws {
        try Integration.require(tools: "docker", install: "scripts/ci-setup.sh installs it")
        try requireDockerEngine()
        let root = scratchDirectory("docker")
        try writeAnswers(root + "/site.yaml")
        let arguments = [
            "install", "--answers", root + "/site.yaml", "--non-interactive", "--through", "ensure-docker",
            "--skip", "preflight", "--root", root,
        ]
        let run = try await sbs(arguments, environment: testEnvironment)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("ensure-docker: Docker engine "), "\(run.stderr)")
        #expect(!run.stderr.contains("starting the Docker engine"))
        let again = try await sbs(arguments, environment: testEnvironment)
        #expect(
            again.stderr.contains(
                "▶ ensure-docker: Make sure the Docker engine and compose v2 are installed and running (on a swarm, a manager) (observes the system: runs every time)"
            ), "\(again.stderr)")
        #expect(again.status == 0)
    }
}

/// Skips (or, in CI, fails) when no Docker engine answers `docker info`.
func requireDockerEngine(sourceLocation: SourceLocation = #_sourceLocation) throws {
    try Integration.require(
        spawnAndWait(["docker", "info"]) == 0 && spawnAndWait(["docker", "compose", "version"]) == 0,
        "needs a Docker engine with compose v2 that answers (scripts/test/docker-env.sh start runs one)",
        sourceLocation: sourceLocation)
}
