import Foundation
import Host
import SBSCore
import TestSupport
import Testing

@testable import Wizard

func problems(_ text: String) -> [String] {
    do {
        _ = try AnswersFile.parse(text, file: "site.yaml")
        return []
    } catch {
        return error.problems.map(\.description)
    }
}

@Suite struct AnswersValidation {
    let complete = """
        version: 1
        domain: shop.example.com
        admin_email: admin@example.com
        secrets:
          anthropic_api_key: env:ANTHROPIC_API_KEY
        """

    @Test func aCompleteFileParses() throws {
        let answers = try AnswersFile.parse(complete, file: "site.yaml")
        #expect(answers.domain?.value == "shop.example.com")
        #expect(answers.secrets[.anthropicAPIKey] == .environment("ANTHROPIC_API_KEY"))
        #expect(answers.missing().isEmpty)
        #expect(answers.httpPort.value == 80)
        #expect(answers.given.isSuperset(of: ["domain", "admin_email", "secrets.anthropic_api_key"]))
    }

    @Test func yamlSyntaxErrorsHaveLineAndColumn() {
        let found = problems("version: 1\ndomain: [shop.example.com\n")
        #expect(found.count == 1)
        #expect(found.first == "site.yaml:2:9: YAML syntax error: unterminated flow sequence: this '[' has no ']'")
    }

    @Test func aMisspeltKeyIsNamedWithASuggestion() {
        let found = problems("version: 1\ndomian: shop.example.com\ntls:\n  mdoe: acme\n")
        #expect(found.contains("site.yaml:2:1: unknown key 'domian' (did you mean 'domain'?)"))
        #expect(found.contains("site.yaml:4:3: unknown key 'tls.mdoe' (did you mean 'tls.mode'?)"))
    }

    @Test func invalidValuesSayWhy() {
        let found = problems(
            """
            version: 1
            domain: shop_example.com
            admin_email: admin-at-example.com
            ports:
              http: 80
              https: 70000
            profile: huge
            tls:
              acme_directory: ftp://ca.example
            backups:
              keep: 0
            """)
        #expect(found.count == 6)
        #expect(
            found.contains {
                $0.hasPrefix("site.yaml:2:9: domain: 'shop_example.com' is not a valid domain name: it contains '_'")
            })
        #expect(
            found.contains {
                $0.hasPrefix("site.yaml:3:14: admin_email: 'admin-at-example.com' is not a valid e-mail address")
            })
        #expect(found.contains("site.yaml:6:10: ports.https: 70000 is not a valid port: ports run from 1 to 65535"))
        #expect(
            found.contains("site.yaml:7:10: profile must be one of auto, minimum, recommended, optimal, not 'huge'"))
        #expect(
            found.contains {
                $0.hasPrefix("site.yaml:9:19: tls.acme_directory: ")
                    && $0.contains("is not letsencrypt, letsencrypt-staging or an https:// URL")
            })
        #expect(found.contains("site.yaml:11:9: backups.keep must be from 1 to 365"))
    }

    @Test func sftpAccessNeedsAnSFTPRepositoryAKeyAndKnownHosts() throws {
        let local = problems(
            complete + "\nbackups:\n  sftp:\n    identity_file: /root/.ssh/k\n    known_hosts: /root/.ssh/known_hosts\n"
        )
        #expect(
            local.contains { $0.contains("backups.sftp applies to an sftp:user@host:/path repository only") },
            "\(local)")
        let lacking = problems(
            complete + "\nbackups:\n  repository: sftp:backup@nas:/srv\n  sftp:\n    port: 2222\n")
        #expect(lacking.contains { $0.contains("backups.sftp needs identity_file and known_hosts") }, "\(lacking)")
        let relative = problems(
            complete
                + "\nbackups:\n  repository: sftp:backup@nas:/srv\n  sftp:\n    identity_file: k\n    known_hosts: /kh\n"
        )
        #expect(relative.contains { $0.contains("must be an absolute path") }, "\(relative)")
        let good = try AnswersFile.parse(
            complete
                + "\nbackups:\n  repository: sftp:backup@nas:/srv\n  sftp:\n    port: 2222\n    identity_file: /root/.ssh/k\n    known_hosts: /root/.ssh/kh\n",
            file: "site.yaml")
        #expect(
            good.backupSFTP
                == (try SFTPAccess(port: try Port(2222), identityFile: "/root/.ssh/k", knownHosts: "/root/.ssh/kh")))
        #expect(good.resticOptions.first?.hasSuffix("backup@nas -s sftp") == true)
    }

    @Test func s3AndRESTCredentialsStandBesideTheirRepositoryAndNeverInItsName() throws {
        let missing = problems(complete + "\nbackups:\n  repository: s3:https://s3.example.com/acme\n")
        #expect(missing.contains { $0.contains("an s3: repository needs backups.s3") }, "\(missing)")
        let half = problems(
            complete + "\nbackups:\n  repository: s3:https://s3.example.com/acme\n  s3:\n    access_key_id: AKIA1\n")
        #expect(half.contains { $0.contains("backups.s3 needs access_key_id and secret_access_key") }, "\(half)")
        let elsewhere = problems(
            complete
                + "\nbackups:\n  rest:\n    user: sbs\n    password: env:REST_PW\n  s3:\n    access_key_id: A\n    secret_access_key: env:K\n"
        )
        #expect(elsewhere.contains { $0.contains("backups.rest applies to a rest:") }, "\(elsewhere)")
        #expect(elsewhere.contains { $0.contains("backups.s3 applies to an s3:") }, "\(elsewhere)")
        // Keys typed into the repository's name are refused without being repeated.
        let inName = problems(
            complete + "\nbackups:\n  repository: \"rest:https://sbs:Hunter2-secret@backup.example.com/\"\n")
        #expect(inName.contains { $0.contains("rest:https://***@backup.example.com/") }, "\(inName)")
        #expect(!inName.joined().contains("Hunter2"), "\(inName)")
        let spaced = problems(complete + "\nbackups:\n  repository: \"s3:https://AK:Hunter2 x@s3.example.com/b\"\n")
        #expect(!spaced.isEmpty && !spaced.joined().contains("Hunter2"), "\(spaced)")

        let good = try AnswersFile.parse(
            complete
                + "\nbackups:\n  repository: s3:https://s3.example.com/acme/sbs\n  s3:\n    access_key_id: AKIA1\n    secret_access_key: env:S3_KEY\n",
            file: "site.yaml")
        #expect(good.backupS3AccessKeyID?.value == "AKIA1")
        #expect(good.backupS3SecretKey == .environment("S3_KEY"))
        #expect(good.secretSources[.backupS3SecretKey] == .environment("S3_KEY"))
    }

    @Test func alertsReachAPersonByMailThroughTheRelayOrByWebhook() throws {
        let withoutRelay = problems(complete + "\nalerts:\n  email: owner@example.com\n")
        #expect(withoutRelay.contains { $0.contains("alerts.email needs smtp") }, "\(withoutRelay)")
        let empty = problems(complete + "\nalerts: {}\n")
        #expect(empty.contains { $0.contains("alerts needs email") }, "\(empty)")
        let twice = problems(
            complete
                + "\nalerts:\n  email: [a@example.com, a@example.com]\nsmtp:\n  host: mail.example.com\n  password: env:P\n"
        )
        #expect(twice.contains { $0.contains("is listed twice") }, "\(twice)")
        let bad = problems(complete + "\nalerts:\n  email: [not-an-address]\n  webhook: env:HOOK\n")
        #expect(bad.contains { $0.contains("alerts.email") }, "\(bad)")

        let good = try AnswersFile.parse(
            complete
                + "\nalerts:\n  email: [owner@example.com, it@example.org]\n  webhook: env:CHAT_HOOK\nsmtp:\n  host: mail.example.com\n  password: env:P\n",
            file: "site.yaml")
        #expect(good.alertEmails.map(\.value) == ["owner@example.com", "it@example.org"])
        #expect(good.alertWebhook == .environment("CHAT_HOOK"))
        #expect(good.secretSources[.alertsWebhook] == .environment("CHAT_HOOK"))
        // A single address reads as a list of one.
        let one = try AnswersFile.parse(
            complete + "\nalerts:\n  email: owner@example.com\nsmtp:\n  host: mail.example.com\n  password: env:P\n",
            file: "site.yaml")
        #expect(one.alertEmails.map(\.value) == ["owner@example.com"])
        #expect(one.alertTimings == .standard)
    }

    /// `alerts.down_for` and `alerts.group_interval`: seconds, minutes or hours from 10 s to 1 h, anything else
    /// refused with the answer's name.
    @Test func alertTimingsAreDurationsFromTenSecondsToAnHour() throws {
        let base = complete + "\nalerts:\n  webhook: env:HOOK\n"
        let timed = try AnswersFile.parse(base + "  down_for: 90s\n  group_interval: 2m\n", file: "site.yaml")
        #expect(timed.alertTimings == AlertTimings(downFor: 90, groupInterval: 120))
        let hour = try AnswersFile.parse(base + "  down_for: 1h\n  group_interval: 10s\n", file: "site.yaml")
        #expect(hour.alertTimings == AlertTimings(downFor: 3600, groupInterval: 10))
        for bad in ["5", "5 m", "9s", "61m", "2h", "-5m", "5.5m", "m", "0s", "99999999999999999999h", "5min", "５m"] {
            let found = problems(base + "  down_for: \"\(bad)\"\n")
            #expect(found.count == 1 && found[0].contains("alerts.down_for"), "\(bad): \(found)")
        }
        #expect(problems(base + "  group_interval: 1d\n").contains { $0.contains("alerts.group_interval") })
        #expect(problems(base + "  resend: 1m\n").count == 1)
    }

    /// `proxy:` gives a URL with nothing but scheme, host and port (no credentials: they would stand in dockerd's
    /// environment), and `no_proxy` entries that read back from a comma-joined list.
    @Test func proxyIsAURLWithoutCredentials() throws {
        let given = try AnswersFile.parse(
            complete + "\nproxy:\n  url: HTTP://Proxy.Office.lan:3128/\n  no_proxy: [intranet.lan, 10.0.0.0/8]\n",
            file: "site.yaml")
        #expect(given.proxy?.value == "http://Proxy.Office.lan:3128")
        #expect(given.noProxy.map(\.value) == ["intranet.lan", "10.0.0.0/8"])
        #expect(given.facts["proxy.url"] == "http://Proxy.Office.lan:3128")
        #expect(try AnswersFile.parse(complete, file: "site.yaml").proxy == nil)
        for (bad, reason) in [
            ("http://user:secret@proxy.lan:3128", "user and password"), ("socks5://proxy.lan:1080", "http://"),
            ("proxy.lan:3128", "http://"), ("http://proxy.lan:3128/path", "path"), ("http://proxy.lan:99999", "port"),
            ("http://pro xy.lan:3128", "host"), ("http://:3128", "host"), ("\"http://proxy.lan:3128\\nX=1\"", "port"),
        ] {
            let found = problems(complete + "\nproxy:\n  url: \(bad)\n")
            #expect(found.count == 1 && found[0].contains("proxy.url") && found[0].contains(reason), "\(bad): \(found)")
            #expect(!found.joined().contains("secret"), "the password is repeated: \(found)")
        }
        for bad in ["\"a,b\"", "x y", "-opt", "\"\"", "\"a\\nb\""] {
            let found = problems(complete + "\nproxy:\n  url: http://p.lan:3128\n  no_proxy: [\(bad)]\n")
            #expect(found.count == 1 && found[0].contains("no_proxy"), "\(bad): \(found)")
        }
        #expect(problems(complete + "\nproxy:\n  no_proxy: [a.lan]\n").first?.contains("proxy needs a url") == true)
        #expect(problems(complete + "\nproxy:\n  url: http://p.lan:3128\n  no_proxy: [a.lan, A.lan]\n").count == 1)
    }

    /// `firewall: on|off`, on unless the file says off; anything else is refused naming the key.
    @Test func firewallIsOnOrOff() throws {
        #expect(try AnswersFile.parse(complete, file: "site.yaml").firewall == .on)
        #expect(try AnswersFile.parse(complete + "\nfirewall: off\n", file: "site.yaml").firewall == .off)
        #expect(try AnswersFile.parse(complete + "\nfirewall: on\n", file: "site.yaml").firewall == .on)
        for bad in ["yes", "true", "\"\"", "[on]"] {
            let found = problems(complete + "\nfirewall: \(bad)\n")
            #expect(found.count == 1 && found[0].contains("firewall"), "\(bad): \(found)")
        }
        #expect(problems(complete + "\nfirewall: maybe\n").first?.contains("firewall must be one of on, off") == true)
    }

    // A user name or password in the directory URL is refused, and the problem does not repeat it: the answers
    // are kept, shown in the summary and become the certificate step's input.
    /// `tls.hsts_*`: defaults as Mozilla's generator has them; max-age from 0 to two years; preload only with
    /// includeSubDomains and at least a year, each problem at the answer it is about.
    @Test func hstsAnswersHaveSafeDefaultsAndPreloadNeedsWhatHSTSPreloadOrgAsks() throws {
        let defaults = try AnswersFile.parse(complete, file: "site.yaml")
        #expect(defaults.hsts == HSTSPolicy(maxAge: 63_072_000, includeSubdomains: false, preload: false))
        let preloaded = try AnswersFile.parse(
            complete + "\ntls:\n  hsts_max_age: 31536000\n  hsts_include_subdomains: true\n  hsts_preload: true\n",
            file: "site.yaml")
        #expect(preloaded.hsts == HSTSPolicy(maxAge: 31_536_000, includeSubdomains: true, preload: true))
        #expect(
            preloaded.given.isSuperset(of: ["tls.hsts_max_age", "tls.hsts_include_subdomains", "tls.hsts_preload"]))
        #expect(try AnswersFile.parse(complete + "\ntls:\n  hsts_max_age: 0\n", file: "site.yaml").hsts.maxAge == 0)

        let cases: [(String, String)] = [
            (
                "  hsts_max_age: 63072001\n",
                "site.yaml:7:17: tls.hsts_max_age must be from 0 (browsers forget the policy) to 63072000 (two years) seconds, not 63072001"
            ),
            ("  hsts_max_age: -5\n", "site.yaml:7:17: tls.hsts_max_age must be from 0"),
            ("  hsts_max_age: 2y\n", "site.yaml:7:17: 'tls.hsts_max_age' must be a whole number, not '2y'"),
            (
                "  hsts_include_subdomains: yes please\n",
                "site.yaml:7:28: 'tls.hsts_include_subdomains' must be true or false"
            ),
            (
                "  hsts_preload: true\n",
                "site.yaml:7:17: tls.hsts_preload needs tls.hsts_include_subdomains: true (hstspreload.org refuses a policy without includeSubDomains)"
            ),
            (
                "  hsts_include_subdomains: true\n  hsts_max_age: 86400\n  hsts_preload: true\n",
                "site.yaml:9:17: tls.hsts_preload needs tls.hsts_max_age of at least 31536000 (one year), not 86400"
            ),
        ]
        for (lines, expected) in cases {
            let found = problems(complete + "\ntls:\n" + lines)
            #expect(found.count == 1 && found[0].hasPrefix(expected), "\(lines): \(found)")
        }
    }

    @Test func credentialsInTheACMEDirectoryAreRefusedUnshown() {
        let found = problems(complete + "\ntls:\n  acme_directory: https://user:s3cret-pass@ca.example/dir\n")
        #expect(found.count == 1)
        #expect(
            found.first?.contains(
                "tls.acme_directory: The ACME directory 'https://***@ca.example/dir' holds a user name or password")
                == true, "\(found)")
        #expect(!found.joined().contains("s3cret-pass") && !found.joined().contains("user:"))
    }

    @Test func imageReferencesAreCheckedAndAnArchiveIsAnAbsolutePath() {
        let digest = String(repeating: "0123456789abcdef", count: 4)
        for good in [
            "nginx:1.27.3-alpine", "registry.example.com:5000/org/api:1.0.0", "kong@sha256:" + digest,
            "ghcr.io/orchestrator-ai/web:1.0.0@sha256:" + digest, "postgres",
        ] {
            #expect(problems("version: 1\nimages:\n  nginx: \"\(good)\"\n").isEmpty, "\(good)")
        }
        for bad in [
            "Nginx:1.27", "nginx:1.27@sha256:abc", "nginx@md5:" + digest, "nginx:", "org//api:1", "nginx:1.2+x",
        ] {
            let found = problems("version: 1\nimages:\n  nginx: \"\(bad)\"\n")
            #expect(found.count == 1 && found[0].contains("images.nginx"), "\(bad): \(found)")
        }
        #expect(problems("version: 1\nimages:\n  archive: /srv/images.tar\n").isEmpty)
        #expect(
            problems(
                "version: 1\nregistry:\n  server: registry.example.com:5000\n  user: deploy\n  password: env:REG_PW\n"
            ).isEmpty)
        #expect(
            problems("version: 1\nregistry:\n  server: registry.example.com\n").first?.contains(
                "registry needs server, user and password") == true)
        #expect(
            problems(
                "version: 1\nregistry:\n  server: https://registry.example.com/v2\n  user: deploy\n  password: env:REG_PW\n"
            )
            .first?.contains("registry.server") == true)
        #expect(problems("version: 1\nimages:\n  archive: images.tar\n").first?.contains("images.archive") == true)
    }

    @Test(arguments: [
        ("domain: \"shop.example.com\\nevil: 1\"", "a newline"),
        ("domain: \"shop.example.com; rm -rf /\"", "';'"),
        ("domain: \"shop.example.com{\"", "'{'"),
        ("domain: \"shop\\\"x.example.com\"", "'\"'"),
        ("images:\n  nginx: \"nginx:alpine\\n    command: evil\"", "a newline"),
        ("images:\n  app-api: \"api;latest\"", "';'"),
        ("paths:\n  deploy_dir: \"/opt/sbs dir\"", "a space"),
        ("aliases: [\"www.example.com }\"]", "a space"),
        ("secrets:\n  grafana_password: \"password\\nX=1\"", "line break"),
        ("smtp:\n  host: mail.example.com\n  password: stored\n  user: \"a b\"", "a space"),
        ("paths:\n  deploy_dir: /etc", "system folder"),
        ("paths:\n  deploy_dir: /", "system folder"),
        ("paths:\n  deploy_dir: /opt/../etc", "not a plain path"),
    ])
    func valuesThatCouldBreakAGeneratedFileAreRejected(_ line: String, _ reason: String) {
        let found = problems("version: 1\n" + line + "\n")
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.contains(reason) == true, "\(found)")
    }

    // Issue 15: what install refuses, validate refuses, with line and column.
    @Test func smtpWithoutAPasswordIsRefusedWhereItStands() {
        let found = problems("version: 1\nsmtp:\n  host: mail.example.com\n  user: mailer\n")
        #expect(found.count == 1 && found[0].hasPrefix("site.yaml:3:3: smtp needs a password"), "\(found)")
        #expect(problems("version: 1\nsmtp:\n  host: mail.example.com\n  password: stored\n").isEmpty)
        #expect(problems("version: 1\nsmtp:\n  password: env:SMTP_PW\n").first?.contains("smtp needs a host") == true)
    }

    @Test(arguments: [
        ("http://example.com/dir", "unencrypted"), ("http://10.0.0.5/dir", "unencrypted"),
        ("http://127.0.0.1.evil.example/dir", "unencrypted"),
        ("https://user:pw@ca.example.com/dir", "holds a user name or password"),
        ("http://user@127.0.0.1/dir", "holds a user name or password"), ("\"\"", "empty"),
        ("ftp://ca.example.com/dir", "not letsencrypt"),
        ("https://ca.example.com:0/dir", "port"), ("https://ca.example.com:+443/dir", "port"), ("https:///dir", "host"),
        ("https://ca_1.example.com/dir", "host"), ("letsencrypt-stagin", "not letsencrypt"),
    ])
    func anACMEDirectoryCertIssueWouldRefuseIsRefused(_ directory: String, _ reason: String) throws {
        let found = problems("version: 1\ntls:\n  acme_directory: \(directory)\n")
        #expect(
            found.count == 1 && found[0].hasPrefix("site.yaml:3:19: tls.acme_directory: ") && found[0].contains(reason),
            "\(found)")
    }

    @Test func anACMEDirectoryOnLoopbackOrOverHTTPSIsKeptAsWritten() throws {
        for directory in [
            "letsencrypt", "letsencrypt-staging", "https://ca.example.com/dir", "http://127.0.0.1:14000/dir",
            "http://localhost/directory", "http://[::1]:8080/acme", "https://[2001:db8::1]:14000/dir?x=1",
        ] {
            let answers = try AnswersFile.parse(
                "version: 1\ntls:\n  acme_directory: \"\(directory)\"\n", file: "site.yaml")
            #expect(answers.acmeDirectory.value == directory)
        }
        #expect(try ACMEServer("letsencrypt-staging").url == ACMEServer.letsEncryptStagingURL)
    }

    @Test(arguments: [
        ":5000", "registry.example.com:", "reg.example.com:+5000", "-", "...", "reg.example.com:65536",
        "reg.example.com:5000:1", "https://reg.example.com", "reg.example.com/v2", "reg_1.example.com",
        "-reg.example.com", "reg.example.com.", "[::1", "[zz]:5000", "",
    ])
    func aRegistryThatIsNotHostAndPortIsRefused(_ server: String) {
        let found = problems("version: 1\nregistry:\n  server: \"\(server)\"\n  user: deploy\n  password: env:REG_PW\n")
        #expect(found.contains { $0.hasPrefix("site.yaml:3:11: registry.server: ") }, "\(server): \(found)")
    }

    @Test func aRegistryUserWithAColonIsRefused() {
        let found = problems(
            "version: 1\nregistry:\n  server: reg.example.com\n  user: \"bob:admin\"\n  password: env:REG_PW\n")
        #expect(found.contains { $0.hasPrefix("site.yaml:4:9: registry.user: ") && $0.contains("':'") }, "\(found)")
    }

    @Test(arguments: [
        "--help", "-nginx:1", "../../nginx:1", "reg:99999/nginx:1", "localhost:/nginx", "nginx:-1", "nginx:.x",
        "nginx:" + String(repeating: "a", count: 129), "ngin_-x", "nginx___x", "nginx.", "/nginx", "nginx/",
        "reg.example.com:5000/", "nginx:1@sha256:abc", "nginx@sha256:" + String(repeating: "A", count: 64),
        "nginx@md5:" + String(repeating: "0", count: 32), "nginx:1.2+x", "nginx:täg", "ex ample/nginx",
    ])
    func anImageNameDockerWouldNotParseIsRefused(_ image: String) {
        let found = problems("version: 1\nimages:\n  nginx: \"\(image)\"\n")
        #expect(found.count == 1 && found[0].hasPrefix("site.yaml:3:10: images.nginx: "), "\(image): \(found)")
    }

    @Test(arguments: [
        "nginx", "nginx:1.27.3-alpine", "library/nginx:_x", "a__b/c-d.e---f:T.1", "localhost/nginx",
        "localhost:5000/org/api:1.0.0", "10.0.0.7:5000/x", "[2001:db8::1]:5000/x/y:1", "Reg.Example.com/x",
        "nginx@sha512:" + String(repeating: "0", count: 128),
    ])
    func anImageNameDockerParsesIsKept(_ image: String) throws {
        let answers = try AnswersFile.parse("version: 1\nimages:\n  nginx: \"\(image)\"\n", file: "site.yaml")
        #expect(answers.image(.nginx) == image)
    }

    @Test func allMissingRequiredAnswersAreListedAtOnce() throws {
        let answers = try AnswersFile.parse("version: 1\nprofile: minimum\n", file: "site.yaml")
        #expect(answers.missing() == ["domain", "admin_email", "secrets.anthropic_api_key"])
        #expect(answers.missing(storedSecrets: [.anthropicAPIKey]) == ["domain", "admin_email"])
    }

    @Test func versionIsRequiredAndChecked() {
        #expect(problems("domain: shop.example.com\n").contains("site.yaml:1:1: missing 'version: 1' at the top"))
        #expect(
            problems("version: 2\n").contains("site.yaml:1:10: version 2 is not supported; this sbs reads version 1"))
    }

    @Test func secretReferencesResolveOrSayWhatIsMissing() throws {
        let env: (String) -> [UInt8]? = { $0 == "KEY" ? Array("value-of-key".utf8) : nil }
        #expect(try SecretSource("env:KEY").resolve(environment: env, stored: { nil }) == "value-of-key")
        #expect(throws: UserError.self) { try SecretSource("env:OTHER").resolve(environment: env, stored: { nil }) }
        #expect(throws: UserError.self) { try SecretSource("file:/nonexistent/secret").resolve(stored: { nil }) }
        #expect(try SecretSource("stored").resolve(stored: { "kept-from-before" }) == "kept-from-before")
        #expect(throws: UserError.self) { try SecretSource("stored").resolve(stored: { nil }) }
        #expect(
            problems("version: 1\nsecrets:\n  anthropic_api_key: file:relative\n").first?.contains("absolute path")
                == true)
    }

    @Test func aSecretIsExactlyTheBytesGivenOrRefused() throws {
        let dir = Scratch.path("secret")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func file(_ name: String, _ bytes: [UInt8]) -> SecretSource {
            FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(bytes))
            return .file(dir + "/" + name)
        }
        // One trailing line break is the file's, not the secret's; everything else is kept as it is.
        #expect(try file("ok", Array("  sk-with spaces\n".utf8)).resolve(stored: { nil }) == "  sk-with spaces")
        let refused: [(SecretSource, String)] = [
            (file("latin1", [0x73, 0x6b, 0x2d, 0xe9, 0x74, 0xe9, 0x2d, 0x6b, 0x65, 0x79]), "not valid UTF-8"),
            (file("two-lines", Array("first-line\nsecond-line\n".utf8)), "control character"),
            (file("quote", Array("it's-a-secret".utf8)), "quote"),
            (file("backslash", Array("ends-with-slash\\".utf8)), "backslash"),
            (file("short", Array("short\n".utf8)), "shorter than 8"),
            (file("huge", [UInt8](repeating: 0x61, count: 70_000)), "too large"),
            (.file(dir), "not a regular file"),
            (.environment("SBS_TEST_INVALID_UTF8"), "not valid UTF-8"),
            (.literal(String(repeating: "a", count: 4097)), "longer than 4096"),
            (.literal("with\u{7f}delete"), "control character"),
        ]
        let env: (String) -> [UInt8]? = {
            $0 == "SBS_TEST_INVALID_UTF8" ? [0x61, 0x62, 0x63, 0xff, 0x64, 0x65, 0x66, 0x67] : nil
        }
        for (source, reason) in refused {
            #expect { try source.resolve(environment: env, stored: { nil }) } throws: { error in
                (error as? UserError)?.message.contains(reason) == true
            }
        }
        for (line, reason) in [
            ("anthropic_api_key: \"sk-1\"", "shorter than 8"), ("anthropic_api_key: \"ab\\\"cdefgh\"", "quote"),
            ("anthropic_api_key: \"abcdefgh\\\\\"", "backslash"),
        ] {
            let found = problems("version: 1\nsecrets:\n  \(line)\n")
            #expect(found.count == 1 && found[0].hasPrefix("site.yaml:3:22: ") && found[0].contains(reason), "\(found)")
        }
    }

    @Test func eachNameOnTheCertificateOnceWhateverItsCaseAndAtMostAHundred() throws {
        let found = problems(
            "version: 1\ndomain: shop.example.com\naliases: [Shop.Example.COM, www.example.com, WWW.example.com]\n")
        #expect(
            found == [
                "site.yaml:3:11: aliases: 'Shop.Example.COM' is the domain itself; list each name once",
                "site.yaml:3:46: aliases: 'WWW.example.com' is listed twice; list each name once",
            ])
        let ninetyNine = (1...99).map { "n\($0).example.com" }.joined(separator: ", ")
        #expect(
            try AnswersFile.parse("version: 1\ndomain: shop.example.com\naliases: [\(ninetyNine)]\n", file: "a")
                .certificateNames.count == 100)
        let tooMany = problems("version: 1\ndomain: shop.example.com\naliases: [\(ninetyNine), n100.example.com]\n")
        #expect(tooMany.count == 1 && tooMany[0].contains("at most 100 names"), "\(tooMany)")
    }

    @Test func renderingWritesLiteralsAsStoredAndReferencesAsTheyAre() throws {
        var answers = try AnswersFile.parse(complete, file: "site.yaml")
        answers.secrets[.grafanaPassword] = .literal("s3cret-grafana")
        let text = AnswersFile.render(answers)
        #expect(!text.contains("s3cret-grafana"))
        let again = try AnswersFile.parse(text, file: "export.yaml")
        #expect(again == answers.storingLiterals)
        #expect(again.secrets[.grafanaPassword] == .stored)
        #expect(again.secrets[.anthropicAPIKey] == .environment("ANTHROPIC_API_KEY"))
        let withSecrets = AnswersFile.render(answers, secretValues: [:])
        #expect(try AnswersFile.parse(withSecrets, file: "export.yaml") == answers)
    }
}

/// Answers drawn from every valid choice, reproducibly (SplitMix64 from a seed).
struct AnswersGenerator {
    private var random: SeededGenerator

    init(seed: UInt64) { random = SeededGenerator(seed: seed) }

    mutating func next() -> UInt64 { random.next() }

    mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
    mutating func chance() -> Bool { next() % 2 == 0 }

    /// A secret value that meets `SecretText` with characters YAML would otherwise read specially.
    mutating func secretValue() -> String {
        let alphabet = Array("abcXYZ019 -_.:#&*!?%@$/{}[]|>~=+,;`^éß€")
        let length = 8 + Int(next() % 40)
        var text = String((0..<length).map { _ in pick(alphabet) })
        while text.hasPrefix(" ") || text.hasSuffix(" ") || text.hasPrefix("env:") || text.hasPrefix("file:")
            || text == "stored"
        {
            text = "k" + text.trimmingCharacters(in: .whitespaces) + "k"
        }
        return text
    }

    mutating func secret() -> SecretSource {
        switch next() % 4 {
        case 0: return .literal(secretValue())
        case 1: return .environment(pick(["ANTHROPIC_API_KEY", "SBS_KEY_1", "smtp_pw"]))
        case 2: return .file(pick(["/run/secrets/key", "/etc/sbs/keys/a b.txt"]))
        default: return .stored
        }
    }

    /// A registry as docker's grammar allows it: DNS components (letters, digits, inner '-'), IPv4, bracketed
    /// IPv6, `localhost`, with or without a port.
    mutating func registryHost() -> String {
        let hosts = [
            "registry.example.com", "REG-1.Example.org", "localhost", "10.0.0.7", "[2001:db8::5]", "a.b",
            "x" + String(repeating: "-", count: Int(next() % 3)) + "9.example",
        ]
        let host = pick(hosts)
        return chance() ? host : host + ":" + pick(["1", "5000", "65535", "443"])
    }

    /// An image reference drawn from docker's grammar: optional registry, 1-3 path components with every kind of
    /// separator, optional tag (up to 128 characters) and digest.
    mutating func imageReference() -> String {
        func component() -> String {
            let alnum = Array("abcxyz0189")
            var text = String((0...Int(next() % 4)).map { _ in pick(alnum) })
            for _ in 0..<Int(next() % 3) {
                text +=
                    pick([".", "_", "__", "-", "--", "---"]) + String((0...Int(next() % 3)).map { _ in pick(alnum) })
            }
            return text
        }
        // A first component with a '.' (or ':') is a registry to docker: the path's first component has none.
        var name =
            ([component().replacingOccurrences(of: ".", with: "-")] + (0..<Int(next() % 3)).map { _ in component() })
            .joined(separator: "/")
        if chance() { name = registryHost() + "/" + name }
        if chance() {
            let word = Array("aZ09_")
            let rest = Array("aZ09_.-")
            name += ":" + String(pick(word)) + String((0..<Int(next() % 128)).map { _ in pick(rest) })
        }
        if chance() {
            let (algorithm, length) = pick([("sha256", 64), ("sha384", 96), ("sha512", 128)])
            name += "@" + algorithm + ":" + String((0..<length).map { _ in pick(Array("0123456789abcdef")) })
        }
        return name
    }

    mutating func answers() throws -> Answers {
        var a = Answers()
        a.mode = pick(InstallMode.allCases)
        a.domain = try DomainName(
            pick(["shop.example.com", "a.b", String(repeating: "x", count: 63) + ".example.org"]))
        a.aliases = try (0..<Int(next() % 4)).map { try DomainName("n\($0).example.net") }
        a.adminEmail = try EmailAddress(pick(["admin@example.com", "o.p+tag@mail.example.org"]))
        a.profile = pick(ProfileRequest.allCases)
        a.gpu = pick(FeatureSwitch.allCases)
        a.monitoring = pick(FeatureSwitch.allCases)
        a.backups = pick(FeatureSwitch.allCases)
        a.tlsMode = pick(TLSMode.allCases)
        a.acmeDirectory = try ACMEServer(
            pick([
                "letsencrypt", "letsencrypt-staging", "https://ca.example.net:14000/dir",
                "http://127.0.0.1:14000/dir", "http://[::1]:8080/acme", "https://[2001:db8::1]/directory",
            ]))
        if chance() { a.acmeCABundle = "/etc/ssl/ca bundle.pem".replacingOccurrences(of: " ", with: "-") }
        if chance() {
            a.eabKeyID = "kid-\(next() % 1000)"
            a.eabHMACKey = secret()
        }
        if a.tlsMode == .files {
            a.certFile = "/etc/ssl/site.pem"
            a.keyFile = "/etc/ssl/site.key"
        }
        a.hsts.maxAge = pick([0, 1, 86400, HSTSPolicy.preloadMinimumMaxAge, HSTSPolicy.maximumMaxAge])
        a.hsts.includeSubdomains = chance()
        a.hsts.preload = a.hsts.includeSubdomains && a.hsts.maxAge >= HSTSPolicy.preloadMinimumMaxAge && chance()
        for name in AnswerSecret.secretsSection where chance() { a.secrets[name] = secret() }
        for service in StackService.allCases where next() % 4 == 0 {
            a.images[service] = try ImageReference(imageReference())
        }
        if chance() { a.imagesArchive = "/srv/images-\(next() % 9).tar" }
        if chance() {
            a.registryServer = try RegistryHost(registryHost())
            a.registryUser = try SafeToken("deploy-\(next() % 9)")
            a.registryPassword = secret()
        }
        if chance() {
            a.httpPort = try Port(8080)
            a.httpsPort = try Port(8443)
        }
        if chance() { a.deployDir = "/srv/sbs" }
        if chance() {
            a.backupDestination = "/mnt/backup"
            a.backupKeep = 1 + Int(next() % 365)
            a.backupKeepWeekly = Int(next() % 521)
            a.backupKeepMonthly = Int(next() % 1201)
        }
        if chance() {
            a.backupRepository = try BackupRepository(
                pick([
                    "/srv/restic", "sftp:backup@nas.example.com:/srv/sbs", "sftp:nas:backups",
                    "s3:https://s3.eu-central-003.backblazeb2.com/acme/sbs", "s3:s3.amazonaws.com/acme-backups",
                    "rest:https://backup.example.com:8000/sbs/", "rest:http://127.0.0.1:8000/",
                ]))
            a.backupPassword = secret()
            if a.backupRepository.kind == .s3 {
                a.backupS3AccessKeyID = try SafeToken(pick(["AKIAIOSFODNN7EXAMPLE", "0031a2b3c4d5e6f0000000001"]))
                a.backupS3SecretKey = secret()
            }
            if a.backupRepository.kind == .rest && chance() {
                a.backupRESTUser = try SafeToken(pick(["sbs", "shop-backup"]))
                a.backupRESTPassword = secret()
            }
            if a.backupRepository.kind == .sftp && chance() {
                a.backupSFTP = try SFTPAccess(
                    port: try Port(pick([22, 2222])), identityFile: "/root/.ssh/sbs-backup",
                    knownHosts: pick(["/root/.ssh/known_hosts", "/etc/sbs/backup-known-hosts"]))
            }
        }
        if chance() {
            a.smtpHost = try DomainName("mail.example.com")
            if chance() { a.smtpPort = try Port(465) }
            if chance() { a.smtpUser = try SafeToken("mailer", what: "user") }
            a.smtpPassword = secret()
            if chance() { a.smtpSender = try EmailAddress("noreply@example.com") }
        }
        if chance() {
            if a.smtpHost != nil {
                a.alertEmails = try Array(
                    ["owner@example.com", "it@example.org", "night@example.net"].prefix(1 + Int(next() % 3))
                )
                .map { try EmailAddress($0) }
            }
            if chance() || a.alertEmails.isEmpty { a.alertWebhook = secret() }
            if chance() { a.alertTimings.downFor = pick([10, 20, 90, 300, 600, 3600]) }
            if chance() { a.alertTimings.groupInterval = pick([15, 60, 120, 300, 1800]) }
        }
        if chance() { a.publicIP = pick(["203.0.113.7", "2001:db8::7"]) }
        a.dnsCheck = pick(DNSPolicy.allCases)
        a.firewall = pick(FirewallSwitch.allCases)
        if chance() {
            a.proxy = try ProxyURL(
                pick([
                    "http://proxy.office.lan:3128", "https://10.0.0.8:8443", "http://[2001:db8::3]:8080",
                    "http://proxy",
                ]))
            let entries = ["intranet.office.lan", ".office.lan", "10.0.0.0/8", "192.168.1.20", "::1", "*", "fd00::/8"]
            for entry in entries where next() % 3 == 0 { a.noProxy.append(try NoProxyEntry(entry)) }
        }
        return a
    }
}

@Suite struct AnswersRoundTrip {
    /// What sbs writes it reads back: `parse(render(a)) == a` for every mix of literal, `env:`, `file:` and
    /// `stored` secrets — exactly with the values (export --include-secrets), and with literals as `stored` when
    /// they are kept out (answers.yaml, a plain export).
    @Test func everyGeneratedAnswersSurviveRenderAndParse() throws {
        var generator = AnswersGenerator(seed: 20261128)
        for round in 0..<300 {
            let answers = try generator.answers()
            let withValues = AnswersFile.render(answers, secretValues: [:])
            let parsed = try AnswersFile.parse(withValues, file: "round-\(round).yaml")
            #expect(parsed == answers, "round \(round):\n\(withValues)")
            let kept = AnswersFile.render(answers)
            #expect(
                try AnswersFile.parse(kept, file: "kept-\(round).yaml") == answers.storingLiterals,
                "round \(round):\n\(kept)")
            for case .literal(let value) in answers.secretSources.values { #expect(!kept.contains(value)) }
        }
    }
}

/// A terminal that plays a script: each expected prompt with its reply. An unexpected prompt fails the test.
final class ScriptedTerminal: Terminal {
    var script: [(prompt: String, reply: String?)]
    var written = ""
    var initials: [String: String] = [:]

    init(_ script: [(String, String?)]) { self.script = script.map { (prompt: $0.0, reply: $0.1) } }

    func next(_ prompt: String) -> String? {
        guard let step = script.first else {
            Issue.record("unexpected prompt after the script ended: \(prompt)")
            return nil
        }
        guard prompt.hasPrefix(step.prompt) else {
            Issue.record("expected a prompt starting with '\(step.prompt)', got '\(prompt)'")
            return nil
        }
        script.removeFirst()
        return step.reply
    }

    func readLine(prompt: String, initial: String, completions: [String]) -> String? {
        initials[prompt] = initial
        return next(prompt)
    }

    func readSecret(prompt: String) throws(UserError) -> String? { next(prompt) }
    func write(_ text: String) { written += text }
}

@Suite struct WizardQuestions {
    @Test func asksOnlyTheGapsReAsksWithTheReasonAndConfirms() throws {
        var answers = Answers()
        answers.adminEmail = try EmailAddress("ops@example.com")
        let terminal = ScriptedTerminal([
            ("Domain name", "bad domain.com"),
            ("Domain name", "shop.example.com"),
            ("Performance profile", "recommended"),
            ("TLS certificates", "acme"),
            ("Keep every name under shop.example.com to HTTPS too?", "maybe"),
            ("Keep every name under shop.example.com to HTTPS too?", "yes"),
            ("Backups go to", "/var/backups/sbs/restic"),
            ("Anthropic API key", "sk-1"),
            ("Anthropic API key", "sk-test-key"),
            ("Proceed", "y"),
        ])
        let result = try Wizard(terminal: terminal).complete(
            answers, given: ["admin_email"], previous: nil,
            detectedProfile: "minimum", storedSecrets: [])
        #expect(result.domain?.value == "shop.example.com")
        #expect(result.profile == .named(.recommended))
        #expect(result.secrets[.anthropicAPIKey] == .literal("sk-test-key"))
        #expect(result.hsts == HSTSPolicy(maxAge: 63_072_000, includeSubdomains: true))
        #expect(terminal.written.contains("✗ 'maybe' is not yes or no"))
        #expect(terminal.written.contains("HSTS              2 years, every name under shop.example.com too"))
        #expect(terminal.written.contains("✗ 'bad domain.com' is not a valid domain name: it contains a space"))
        #expect(terminal.written.contains("✗ The key is not usable: the secret is shorter than 8 characters"))
        #expect(!terminal.written.contains("sk-test-key"))
        #expect(terminal.script.isEmpty)
    }

    @Test func previousAnswersAreOfferedAndStoredSecretsNotAskedAgain() throws {
        var previous = Answers()
        previous.domain = try DomainName("old.example.com")
        previous.adminEmail = try EmailAddress("old@example.com")
        let terminal = ScriptedTerminal([
            ("Domain name", "old.example.com"),
            ("Administrator e-mail", "old@example.com"),
            ("Performance profile", "auto"),
            ("TLS certificates", "self-signed"),
            ("Keep every name under old.example.com to HTTPS too?", "no"),
            ("Backups go to", "/var/backups/sbs/restic"),
            ("Proceed", "n"),
        ])
        #expect(throws: Wizard.Declined.self) {
            try Wizard(terminal: terminal).complete(
                Answers(), given: [], previous: previous, detectedProfile: nil,
                storedSecrets: [.anthropicAPIKey])
        }
        #expect(terminal.initials.first { $0.key.hasPrefix("Domain") }?.value == "old.example.com")
        #expect(terminal.written.contains("anthropic_api_key kept from before"))
    }

    /// Where backups go, re-asked while it is not a repository sbs can use; an S3 repository's keys and a REST
    /// server's login asked with it (secrets hidden), not again when kept for the same repository; not asked at all
    /// when the answers file names the repository or backups are off.
    @Test func theBackupRepositoryIsAskedWithWhatItNeeds() throws {
        func run(
            _ script: [(String, String?)], given: Set<String> = [], previous: Answers? = nil,
            stored: Set<AnswerSecret> = [], backups: FeatureSwitch = .auto
        ) throws -> (Answers, ScriptedTerminal) {
            var answers = Answers()
            answers.domain = try DomainName("shop.example.com")
            answers.adminEmail = try EmailAddress("ops@example.com")
            answers.backups = backups
            let terminal = ScriptedTerminal(
                [
                    ("Performance profile", "auto"), ("TLS certificates", "acme"),
                    ("Keep every name under shop.example.com", "no"),
                ] + script + [("Proceed", "y")])
            let result = try Wizard(terminal: terminal).complete(
                answers, given: given.union(["domain", "admin_email"]), previous: previous, detectedProfile: nil,
                storedSecrets: stored.union([.anthropicAPIKey]))
            #expect(terminal.script.isEmpty, "prompts left: \(terminal.script.map(\.prompt))")
            return (result, terminal)
        }
        let (s3, s3Terminal) = try run([
            ("Backups go to", "b2:acme:sbs"),
            ("Backups go to", "s3:https://s3.eu-central-003.backblazeb2.com/acme/sbs"),
            ("S3 access key id", "0031a2b3c4d5e6f"),
            ("S3 secret access key (input hidden)", ""),
            ("S3 secret access key (input hidden)", "K003-secret-key-value"),
        ])
        #expect(s3.backupRepository.kind == .s3)
        #expect(s3.backupS3AccessKeyID?.value == "0031a2b3c4d5e6f")
        #expect(s3.backupS3SecretKey == .literal("K003-secret-key-value"))
        #expect(s3Terminal.written.contains("s3:https://s3.REGION.backblazeb2.com/BUCKET"))
        #expect(!s3Terminal.written.contains("K003-secret-key-value"))
        #expect(s3Terminal.written.contains("backups           s3:https://s3.eu-central-003.backblazeb2.com/acme/sbs"))

        // The same repository and key again: the kept secret key is not asked for.
        let (again, _) = try run(
            [("Backups go to", s3.backupRepository.value), ("S3 access key id", "0031a2b3c4d5e6f")],
            previous: s3, stored: [.backupS3SecretKey])
        #expect(again.backupS3SecretKey == .stored)

        let (rest, _) = try run([
            ("Backups go to", "rest:https://backup.example.com:8000/shop/"),
            ("REST server user", "sbs"),
            ("REST server password (input hidden)", "rest-password-1"),
        ])
        #expect(rest.backupRESTUser?.value == "sbs" && rest.backupRESTPassword == .literal("rest-password-1"))
        let (open, _) = try run([
            ("Backups go to", "rest:https://backup.example.com:8000/shop/"), ("REST server user", ""),
        ])
        #expect(open.backupRESTUser == nil && open.backupRESTPassword == nil)

        let (sftp, sftpTerminal) = try run([("Backups go to", "sftp:backup@nas.example.com:/srv/sbs")])
        #expect(sftp.backupRepository.kind == .sftp)
        #expect(sftpTerminal.written.contains("root's ssh configuration"))

        // From an S3 repository to a folder: the keys go with it, and the answers still read back.
        var fromS3 = s3
        fromS3.domain = try DomainName("shop.example.com")
        let terminal = ScriptedTerminal([
            ("Performance profile", "auto"), ("TLS certificates", "acme"),
            ("Keep every name under shop.example.com", "no"), ("Backups go to", "/srv/restic"), ("Proceed", "y"),
        ])
        let moved = try Wizard(terminal: terminal).complete(
            fromS3, given: ["domain", "admin_email"], previous: s3, detectedProfile: nil,
            storedSecrets: [.anthropicAPIKey, .backupS3SecretKey])
        #expect(moved.backupS3AccessKeyID == nil && moved.backupS3SecretKey == nil)
        #expect(
            try AnswersFile.parse(AnswersFile.render(moved), file: "kept.yaml").backupRepository.value == "/srv/restic")

        // Named by the file, or backups off: no question.
        _ = try run([], given: ["backups.repository"])
        let (off, offTerminal) = try run([], backups: .off)
        #expect(off.backupRepository == .onThisServer)
        #expect(offTerminal.written.contains("backups           off"))
    }

    /// HSTS over every name under the domain is asked in production only, with what it does to those names, the
    /// previous answer offered; not asked when the file gives it. Saying no turns preloading off (it needs them).
    @Test func whetherHSTSCoversTheNamesUnderTheDomainIsAskedInProductionOnly() throws {
        func run(
            _ script: [(String, String?)], mode: InstallMode = .production, given: Set<String> = [],
            previous: Answers? = nil
        ) throws -> (Answers, ScriptedTerminal) {
            var answers = previous ?? Answers()
            answers.mode = mode
            answers.domain = try DomainName("shop.example.com")
            answers.adminEmail = try EmailAddress("ops@example.com")
            answers.backups = .off
            let terminal = ScriptedTerminal(
                [("Performance profile", "auto"), ("TLS certificates", "acme")] + script + [("Proceed", "y")])
            let result = try Wizard(terminal: terminal).complete(
                answers, given: given.union(["domain", "admin_email"]), previous: previous, detectedProfile: nil,
                storedSecrets: [.anthropicAPIKey])
            #expect(terminal.script.isEmpty, "prompts left: \(terminal.script.map(\.prompt))")
            return (result, terminal)
        }
        let prompt = "Keep every name under shop.example.com to HTTPS too? [yes|no]: "
        let (asked, terminal) = try run([(prompt, "no")])
        #expect(asked.hsts == .standard)
        #expect(terminal.initials[prompt] == "no")
        #expect(
            terminal.written.contains(
                "keeps to HTTPS for it for 2 years (HSTS). It can do the same for\nevery name under it (intranet.shop.example.com, printer.shop.example.com …): it then refuses plain HTTP on all of them."
            ))
        #expect(terminal.written.contains("HSTS              2 years, this name only"))

        // Development installs send no HSTS: not asked, nor shown.
        let (development, developmentTerminal) = try run([], mode: .development)
        #expect(development.hsts == .standard && !developmentTerminal.written.contains("HSTS"))
        // Given by the answers file: not asked.
        _ = try run([], given: ["tls.hsts_include_subdomains"])

        // An earlier install preloaded the policy: offered "yes"; answering no turns preloading off with it.
        var preloaded = Answers()
        preloaded.hsts = HSTSPolicy(maxAge: 31_536_000, includeSubdomains: true, preload: true)
        let (kept, keptTerminal) = try run([(prompt, "yes")], previous: preloaded)
        #expect(kept.hsts == preloaded.hsts && keptTerminal.initials[prompt] == "yes")
        #expect(
            keptTerminal.written.contains("HSTS              1 year, every name under shop.example.com too, preloaded"))
        let (narrowed, narrowedTerminal) = try run([(prompt, "no")], previous: preloaded)
        #expect(narrowed.hsts == HSTSPolicy(maxAge: 31_536_000))
        #expect(narrowedTerminal.written.contains("tls.hsts_preload is off now"))
        #expect(try AnswersFile.parse(AnswersFile.render(narrowed), file: "kept.yaml").hsts == narrowed.hsts)
    }
}

@Suite("Answers: deploy target")
struct DeployTargetAnswersTests {
    static let base = """
        version: 1
        domain: shop.example.com
        admin_email: admin@example.com
        secrets:
          anthropic_api_key: sk-ant-test

        """

    @Test func composeIsTheDefaultAndSwarmTakesItsSettings() throws {
        let plain = try AnswersFile.parse(Self.base, file: "site.yaml")
        #expect(plain.target == .compose && plain.swarm == SwarmSettings())
        let swarm = try AnswersFile.parse(
            Self.base + "target: swarm\nswarm:\n  replicas:\n    api: 3\n    web: 2\n  advertise_addr: 10.0.0.5\n",
            file: "site.yaml")
        #expect(swarm.target == .swarm)
        #expect(swarm.swarm == SwarmSettings(apiReplicas: 3, webReplicas: 2, advertiseAddress: "10.0.0.5"))
        #expect(swarm.facts["target"] == "swarm" && swarm.facts["swarm.replicas.api"] == "3")
    }

    /// What `render` writes reads back equal, over every combination of replicas and address.
    @Test func renderedAnswersReadBackEqual() throws {
        for api in [1, 2, 20] {
            for web in [1, 7] {
                for address in [nil, "192.0.2.10", "2001:db8::5"] {
                    var answers = try AnswersFile.parse(Self.base, file: "site.yaml")
                    answers.target = .swarm
                    answers.swarm = SwarmSettings(apiReplicas: api, webReplicas: web, advertiseAddress: address)
                    let text = AnswersFile.render(answers)
                    let back = try AnswersFile.parse(text, file: "rendered.yaml")
                    #expect(back.target == .swarm && back.swarm == answers.swarm, "\(text)")
                }
            }
        }
        let compose = try AnswersFile.parse(Self.base, file: "site.yaml")
        let back = try AnswersFile.parse(AnswersFile.render(compose), file: "rendered.yaml")
        #expect(back.target == .compose && back.swarm == SwarmSettings())
    }

    @Test(arguments: [
        ("target: kubernetes\n", "target must be one of compose, swarm"),
        ("swarm:\n  replicas:\n    api: 2\n", "swarm: applies to target: swarm only"),
        ("target: swarm\nswarm:\n  replicas:\n    api: 0\n", "swarm.replicas.api must be from 1 to 20"),
        ("target: swarm\nswarm:\n  replicas:\n    web: 21\n", "swarm.replicas.web must be from 1 to 20"),
        ("target: swarm\nswarm:\n  replicas:\n    db: 2\n", "db"),
        ("target: swarm\nswarm:\n  replicas:\n    api: two\n", "must be a whole number"),
        ("target: swarm\nswarm:\n  advertise_addr: eth0\n", "'eth0' is not an IPv4 or IPv6 address"),
        ("target: swarm\nswarm:\n  leader: yes\n", "leader"),
    ])
    func badSwarmAnswersAreRefusedNamingTheKey(_ tail: String, _ message: String) throws {
        do {
            _ = try AnswersFile.parse(Self.base + tail, file: "site.yaml")
            Issue.record("accepted: \(tail)")
        } catch {
            #expect(error.description.contains(message), "\(error.description)")
            #expect(error.description.contains("site.yaml:"), "\(error.description)")
        }
    }
}
