import Crypto
import Foundation
import SBSCore
import TestSupport
import Testing

@testable import Render

@Suite("Secrets and Supabase JWTs")
struct SecretsTests {
    @Test func generatedSecretsAreComplete0600AndVerify() throws {
        let dir = try TemporaryDirectory()
        let file = SecretsFile(path: dir.path + "/etc/sbs/secrets.env")
        let now = Date(timeIntervalSince1970: 1_767_225_600)
        let (secrets, generated) = try file.generateMissing(now: now)
        #expect(generated == SecretName.generated)
        #expect(fileMode(file.path) == 0o600)

        let jwtSecret = try #require(secrets[.jwtSecret])
        #expect(SupabaseJWT.decodeBase64URL(jwtSecret)?.count == 48)
        #expect(secrets[.postgresPassword]?.count == 32)
        #expect(secrets[.grafanaAdminPassword]?.count == 24)

        for (name, role) in [(SecretName.supabaseAnonKey, "anon"), (.supabaseServiceRoleKey, "service_role")] {
            let token = try #require(secrets[name])
            // Verify independently of SupabaseJWT.verify: HMAC-SHA256 over header.payload with the secret's text.
            let parts = token.split(separator: ".").map(String.init)
            #expect(parts.count == 3)
            let mac = HMAC<SHA256>.authenticationCode(
                for: Data((parts[0] + "." + parts[1]).utf8), using: SymmetricKey(data: Data(jwtSecret.utf8)))
            #expect(SupabaseJWT.base64URL(Array(mac)) == parts[2])
            let header =
                try JSONSerialization.jsonObject(with: Data(try #require(SupabaseJWT.decodeBase64URL(parts[0]))))
                as? [String: Any]
            #expect(header?["alg"] as? String == "HS256")
            let claims =
                try JSONSerialization.jsonObject(with: Data(try #require(SupabaseJWT.decodeBase64URL(parts[1]))))
                as? [String: Any]
            #expect(claims?["role"] as? String == role)
            #expect(claims?["iss"] as? String == "supabase")
            #expect(claims?["iat"] as? Int == 1_767_225_600)
            #expect((claims?["exp"] as? Int ?? 0) > 1_767_225_600 + 9 * 365 * 86_400)
            #expect(SupabaseJWT.verify(token, secret: jwtSecret)?.role == role)
            #expect(SupabaseJWT.verify(token, secret: jwtSecret + "x") == nil)
        }
    }

    @Test func aReRunChangesNothing() throws {
        let dir = try TemporaryDirectory()
        let file = SecretsFile(path: dir.path + "/secrets.env")
        let first = try file.generateMissing()
        let bytes = try #require(FileManager.default.contents(atPath: file.path))
        let second = try file.generateMissing(now: Date().addingTimeInterval(86_400))
        #expect(second.generated.isEmpty)
        #expect(second.secrets == first.secrets)
        #expect(FileManager.default.contents(atPath: file.path) == bytes)
    }

    @Test func onlyAbsentSecretsAreFilledAndUserSecretsKept() throws {
        let dir = try TemporaryDirectory()
        let file = SecretsFile(path: dir.path + "/secrets.env")
        try file.set(.anthropicAPIKey, to: "sk-ant-api03-abc_DEF-123")
        try file.set(.postgresPassword, to: "KeepThisPassword")
        let result = try file.generateMissing()
        #expect(!result.generated.contains(.postgresPassword))
        #expect(result.secrets[.postgresPassword] == "KeepThisPassword")
        #expect(result.secrets[.anthropicAPIKey] == "sk-ant-api03-abc_DEF-123")
        #expect(try file.setIfAbsent(.anthropicAPIKey, to: "other") == false)
        #expect(try file.load()[.anthropicAPIKey] == "sk-ant-api03-abc_DEF-123")
        #expect(try file.setIfAbsent(.smtpPassword, to: "p@ss w#rd$") == true)
        #expect(try file.load()[.smtpPassword] == "p@ss w#rd$")
        try file.set(.anthropicAPIKey, to: "sk-new-value")
        #expect(try file.load()[.anthropicAPIKey] == "sk-new-value")
        #expect(fileMode(file.path) == 0o600)
    }

    @Test func keysThatDoNotMatchTheSecretAreAnErrorNotReplaced() throws {
        let dir = try TemporaryDirectory()
        let file = SecretsFile(path: dir.path + "/secrets.env")
        try file.generateMissing()
        try file.set(.jwtSecret, to: "a-different-secret-that-did-not-sign-the-keys")
        let before = FileManager.default.contents(atPath: file.path)
        let error = #expect(throws: UserError.self) { try file.generateMissing() }
        #expect(error?.message.contains("SUPABASE_ANON_KEY") == true)
        #expect(FileManager.default.contents(atPath: file.path) == before)

        let orphan = SecretsFile(path: dir.path + "/orphan.env")
        try orphan.set(.supabaseAnonKey, to: "eyJ.abc.def")
        #expect(throws: UserError.self) { try orphan.generateMissing() }
    }

    @Test func unstorableValuesAndNamesAreRejected() throws {
        let dir = try TemporaryDirectory()
        let file = SecretsFile(path: dir.path + "/secrets.env")
        for bad in [
            "line\nbreak-long", "quote'd-value", "double\"quote", "", "short", "ends-with\\", "tab\there-long",
            String(repeating: "x", count: 5000),
        ] {
            #expect(throws: UserError.self) { try file.set(.anthropicAPIKey, to: bad) }
        }
        for bad in ["lower", "1ABC", "A-B", "A B", ""] {
            #expect(throws: UserError.self) { try SecretName(bad) }
        }
        #expect(!FileManager.default.fileExists(atPath: file.path))
    }

    @Test func malformedFileErrorsNameTheLineNotTheValue() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/secrets.env"
        try "# comment\nGOOD=value-long-enough\nthis line has the secret hunter2 but no equals\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: UserError.self) { try SecretsFile(path: path).load() }
        #expect(error?.message.contains("Line 3") == true)
        #expect(error?.description.contains("hunter2") == false)
    }

    @Test func theDeployEnvReadsBackEverySecretItWasRenderedWith() throws {
        let (input, _) = try GoldenCase.optimalGPUFilesSMTP.input()
        let secrets = try fixedSecrets(extra: [
            (.anthropicAPIKey, "sk-ant-$HOME #not-a-comment {x}"), (.smtpPassword, "smtp pass: with spaces"),
        ])
        let files = try ConfigRenderer.render(input, secrets: secrets, templates: Repository.templates())
        let env = try #require(files.first { $0.relativePath == ".env" })
        let parsed = DeployEnvFile.secrets(in: env.text)
        for name in secrets.names { #expect(parsed[name] == secrets[name], "\(name)") }
    }

    @Test func aLostSecretsFileIsRecoveredFromTheDeployEnvNeverMadeAnew() throws {
        let dir = try TemporaryDirectory()
        let file = SecretsFile(path: dir.path + "/secrets.env")
        let (original, _) = try file.generateMissing()
        let (input, _) = try GoldenCase.minimumBasic.input()
        let env = try #require(
            try ConfigRenderer.render(input, secrets: original, templates: Repository.templates()).first {
                $0.relativePath == ".env"
            })
        try env.text.write(toFile: dir.path + "/.env", atomically: true, encoding: .utf8)

        try FileManager.default.removeItem(atPath: file.path)
        let (recovered, generated, from) = try file.ensure(
            deployEnvPath: dir.path + "/.env", databaseVolume: "sbs_postgres_data")
        #expect(generated.isEmpty)
        #expect(Set(from) == Set(SecretName.generated))
        for name in SecretName.generated { #expect(recovered[name] == original[name], "\(name)") }
        #expect(fileMode(file.path) == 0o600)

        // The database password is in neither file: refused, with what to do, rather than a new password.
        try FileManager.default.removeItem(atPath: file.path)
        let withoutPassword = env.text.split(separator: "\n").filter { !$0.hasPrefix("POSTGRES_PASSWORD=") }.joined(
            separator: "\n")
        try withoutPassword.write(toFile: dir.path + "/.env", atomically: true, encoding: .utf8)
        let refusal = #expect(throws: UserError.self) {
            try file.ensure(deployEnvPath: dir.path + "/.env", databaseVolume: nil)
        }
        #expect(refusal?.message.contains("POSTGRES_PASSWORD") == true)
        #expect(refusal?.remedy?.contains("backup") == true)
        #expect(!FileManager.default.fileExists(atPath: file.path))

        // No .env, but the database volume exists: refused too.
        try FileManager.default.removeItem(atPath: dir.path + "/.env")
        #expect(throws: UserError.self) {
            try file.ensure(deployEnvPath: dir.path + "/.env", databaseVolume: "sbs_postgres_data")
        }
        // Neither: a first install, which generates.
        let (fresh, made, _) = try file.ensure(
            given: [.anthropicAPIKey: "sk-given-by-answers"], deployEnvPath: dir.path + "/.env", databaseVolume: nil)
        #expect(Set(made) == Set(SecretName.generated))
        #expect(fresh[.anthropicAPIKey] == "sk-given-by-answers")
        #expect(fresh[.postgresPassword] != original[.postgresPassword])
    }

    @Test func printingSecretsShowsNamesOnly() throws {
        let secrets = try fixedSecrets()
        let printed = "\(secrets) \(String(describing: secrets)) \(String(reflecting: secrets))"
        var dumped = ""
        dump(secrets, to: &dumped)
        for value in secrets.allValues {
            #expect(!printed.contains(value))
            #expect(!dumped.contains(value))
        }
        #expect(printed.contains("JWT_SECRET"))
    }

    @Test func anExistingLooseFileIsTightenedTo0600() throws {
        let dir = try TemporaryDirectory()
        let file = SecretsFile(path: dir.path + "/secrets.env")
        try file.generateMissing()
        chmod(file.path, 0o644)
        try file.generateMissing()
        #expect(fileMode(file.path) == 0o600)
    }

    @Test func tamperedTokensDoNotVerify() {
        let token = SupabaseJWT.sign(.init(role: "anon", iat: 1, exp: 2), secret: "s3cret-s3cret-s3cret-s3cret-s3cret")
        let parts = token.split(separator: ".").map(String.init)
        let forged = SupabaseJWT.base64URL(Array(#"{"role":"service_role","iss":"supabase","iat":1,"exp":2}"#.utf8))
        #expect(
            SupabaseJWT.verify(parts[0] + "." + forged + "." + parts[2], secret: "s3cret-s3cret-s3cret-s3cret-s3cret")
                == nil)
        let none = SupabaseJWT.base64URL(Array(#"{"alg":"none","typ":"JWT"}"#.utf8))
        #expect(SupabaseJWT.verify(none + "." + parts[1] + ".", secret: "s3cret-s3cret-s3cret-s3cret-s3cret") == nil)
        #expect(SupabaseJWT.verify("not a token", secret: "x") == nil)
    }
}
