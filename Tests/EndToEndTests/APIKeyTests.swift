import Foundation
import Testing

/// The API keys an answers file gives reach the API service through the deploy `.env`, and nowhere else.
@Suite struct APIKeysReachTheAPIService {
    @Test func theOpenAIKeyFromTheAnswersReachesTheAPIServiceAndIsKeptSecret() async throws {
        let root = scratchDirectory("openai-key")
        let host = try fixtureHost()
        let openai = "sk-proj-e2e-openai-0042-#$x"
        let environment = testEnvironment.merging(["SBS_TEST_OPENAI_KEY": openai]) { _, new in new }
        try """
        version: 1
        domain: shop.example.test
        admin_email: admin@example.test
        tls:
          mode: acme
        secrets:
          anthropic_api_key: env:SBS_TEST_ANTHROPIC_KEY
          openai_api_key: env:SBS_TEST_OPENAI_KEY
        checks:
          dns: skip
        """.write(toFile: root + "/site.yaml", atomically: true, encoding: .utf8)
        let run = try await sbs(
            [
                "install", "--answers", root + "/site.yaml", "--non-interactive", "--through", "write-configs",
                "--root", root, "--sysroot", host,
            ], environment: environment)
        #expect(run.status == 0, "\(run.stderr)")

        // Kept in secrets.env and rendered into the deploy .env, both 0600, read back line by line.
        func mode(_ path: String) -> Int? {
            try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        }
        func lines(_ path: String) -> [String] { (read(path) ?? "").split(separator: "\n").map(String.init) }
        let secretsFile = root + "/etc/sbs/secrets.env"
        let deployEnv = root + "/opt/sbs/.env"
        #expect(mode(secretsFile) == 0o600)
        #expect(mode(deployEnv) == 0o600)
        #expect(lines(secretsFile).filter { $0.hasPrefix("OPENAI_API_KEY=") } == ["OPENAI_API_KEY=\(openai)"])
        #expect(lines(deployEnv).filter { $0.hasPrefix("OPENAI_API_KEY=") } == ["OPENAI_API_KEY='\(openai)'"])

        // Never printed, logged or kept in the state; the compose file names the variable, never the value.
        var elsewhere = [
            "stdout": run.stdout, "stderr": run.stderr,
            "docker-compose.yml": read(root + "/opt/sbs/docker-compose.yml") ?? "",
        ]
        for folder in ["/var/log/sbs", "/var/lib/sbs"] {
            for path in FileManager.default.subpaths(atPath: root + folder) ?? [] {
                elsewhere[folder + "/" + path] = read(root + folder + "/" + path)
            }
        }
        for (name, text) in elsewhere { #expect(!text.contains("sk-proj-e2e-openai"), "\(name) holds the OpenAI key") }
        #expect(elsewhere["docker-compose.yml"]?.contains("OPENAI_API_KEY: \"${OPENAI_API_KEY:-}\"") == true)

        // How compose reads the two files back is checked in RenderTests (composeAcceptsEveryProfileAndFeatureCombination).
    }
}
