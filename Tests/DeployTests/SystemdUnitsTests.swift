import Foundation
import SBSCore
import TestSupport
import Testing

@testable import Deploy

/// A unit file read back as systemd reads it: `[Section]` headers and `Key=Value` lines, comments (`#`, `;`) and
/// blank lines ignored. Anything else (a line that is neither, a key before any section, a continuation line) is
/// an error: the renderer must never produce one.
struct UnitFileReader {
    struct Malformed: Error, CustomStringConvertible { var description: String }

    var sections: [(name: String, entries: [(key: String, value: String)])] = []

    init(_ text: String) throws {
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasSuffix("\\") {
                throw Malformed(description: "line \(number + 1) continues onto the next: \(line)")
            }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), line.count > 2 else {
                    throw Malformed(description: "line \(number + 1): bad section \(line)")
                }
                sections.append((String(line.dropFirst().dropLast()), []))
                continue
            }
            guard let equals = line.firstIndex(of: "="), !sections.isEmpty else {
                throw Malformed(description: "line \(number + 1) is not Key=Value in a section: \(line)")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber }) else {
                throw Malformed(description: "line \(number + 1): bad key \(key)")
            }
            sections[sections.count - 1].entries.append(
                (key, String(line[line.index(after: equals)...]).trimmingCharacters(in: .whitespaces)))
        }
    }

    var names: [String] { sections.map(\.name) }

    func values(_ section: String, _ key: String) -> [String] {
        sections.filter { $0.name == section }.flatMap { $0.entries.filter { $0.key == key }.map(\.value) }
    }

    /// The sections and entries written out again, one per line.
    var serialized: [String] {
        sections.flatMap { ["[\($0.name)]"] + $0.entries.map { "\($0.key)=\($0.value)" } }
    }

    /// A command line (`ExecStart=`) split into words as systemd does: double or single quotes, backslash escapes,
    /// then `%%` → `%` and `$$` → `$`. A lone `%` or `$` (a specifier or a variable systemd would expand) is an error.
    static func words(_ text: String) throws -> [String] {
        var words: [String] = []
        var current: String?
        var quote: Character?
        var characters = Array(text)[...]
        while let c = characters.popFirst() {
            switch c {
            case "\\":
                guard let next = characters.popFirst() else { throw Malformed(description: "trailing backslash") }
                current = (current ?? "") + String(next)
            case let mark where (mark == "\"" || mark == "'") && (quote == nil || quote == mark):
                quote = quote == nil ? c : nil
                current = current ?? ""
            case "%", "$":
                guard characters.first == c else {
                    throw Malformed(description: "a lone \(c) would be expanded: \(text)")
                }
                characters.removeFirst()
                current = (current ?? "") + String(c)
            case " " where quote == nil:
                if let word = current { words.append(word) }
                current = nil
            default:
                current = (current ?? "") + String(c)
            }
        }
        if quote != nil { throw Malformed(description: "unterminated quote: \(text)") }
        if let word = current { words.append(word) }
        return words
    }
}

/// Runs `argv` and returns its status and both outputs together.
func runTool(_ argv: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: argv[0])
    process.arguments = Array(argv.dropFirst())
    if let environment { process.environment = environment }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

func temporaryFolder(_ name: String) throws -> String {
    let path = Scratch.path("\(name)")
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite struct SystemdUnitRendering {
    let project = ComposeProject(name: "sbs", directory: "/opt/sbs")

    func units(
        executable: String = "/usr/local/bin/sbs", root: String = "/", project: ComposeProject? = nil,
        backups: Bool = true
    ) throws -> SystemdUnits {
        try SystemdUnits(executable: executable, root: root, project: project ?? self.project, backups: backups)
    }

    func unit(_ units: SystemdUnits, _ name: String) throws -> UnitFileReader {
        let text = try #require(units.units.first { $0.name == name }?.text, "\(name) missing")
        return try UnitFileReader(text)
    }

    @Test func everyUnitParsesBackWithItsSectionsAndKeys() throws {
        let units = try units()
        #expect(
            units.units.map(\.name) == [
                "sbs-renew.service", "sbs-renew.timer", "sbs-verify.service", "sbs-verify.timer",
                "sbs-backup.service", "sbs-backup.timer",
            ])
        for unit in units.units {
            let file = try UnitFileReader(unit.text)
            // Round trip: every line that is not a comment or blank is exactly one section or one Key=Value.
            let meaningful = unit.text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            #expect(file.serialized == meaningful, "\(unit.name)")
            if unit.name.hasSuffix(".service") {
                #expect(file.names == ["Unit", "Service"], "\(unit.name)")
                #expect(file.values("Service", "Type") == ["oneshot"])
                #expect(file.values("Service", "ExecStart").count == 1)
                #expect(file.values("Service", "ProtectSystem") == ["full"])
                #expect(file.values("Service", "PrivateTmp") == ["yes"])
                #expect(file.values("Service", "NoNewPrivileges") == ["yes"])
                #expect(file.values("Unit", "Description").first?.isEmpty == false)
            } else {
                #expect(file.names == ["Unit", "Timer", "Install"], "\(unit.name)")
                #expect(file.values("Install", "WantedBy") == ["timers.target"])
                #expect(!file.values("Timer", "OnCalendar").isEmpty)
                #expect(!file.values("Timer", "RandomizedDelaySec").isEmpty)
            }
        }
        let renewTimer = try unit(units, "sbs-renew.timer")
        #expect(renewTimer.values("Timer", "OnCalendar") == ["*-*-* 00,12:00:00"])
        #expect(renewTimer.values("Timer", "Persistent") == ["true"])
        #expect(try unit(units, "sbs-backup.timer").values("Timer", "Persistent") == ["true"])
    }

    @Test func theServicesRunSbsWithItsFlagsAndTheRootOnlyWhenNotSlash() throws {
        let onSlash = try units()
        let renew = try UnitFileReader.words(
            try #require(unit(onSlash, "sbs-renew.service").values("Service", "ExecStart").first))
        // `sbs renew` reloads the stack's nginx itself (nginx -t first) after a renewal; it waits for an install
        // that holds the lock rather than failing the timer at once.
        #expect(renew == ["/usr/local/bin/sbs", "renew", "--wait-for-lock", "900"])
        let verify = try UnitFileReader.words(
            try #require(unit(onSlash, "sbs-verify.service").values("Service", "ExecStart").first))
        #expect(verify == ["/usr/local/bin/sbs", "verify", "--json"])
        let backup = try UnitFileReader.words(
            try #require(unit(onSlash, "sbs-backup.service").values("Service", "ExecStart").first))
        // The nightly backup waits for the run lock (an install recreating the database must not be backed up
        // half-way), then gives up with 75.
        #expect(backup == ["/usr/local/bin/sbs", "backup", "--wait-for-lock", "900"])
        // sbs writes its own folders; /etc stays read-only otherwise.
        #expect(
            try unit(onSlash, "sbs-renew.service").values("Service", "ReadWritePaths")
                == ["-\"/etc/sbs\" -\"/var/lib/sbs\" -\"/var/log/sbs\""])

        // A root in /tmp would be hidden by a private /tmp.
        #expect(try units(root: "/tmp/demo").units[0].text.contains("PrivateTmp") == false)

        let underRoot = try units(root: "/srv/demo")
        let verifyUnderRoot = try UnitFileReader.words(
            try #require(unit(underRoot, "sbs-verify.service").values("Service", "ExecStart").first))
        #expect(verifyUnderRoot == ["/usr/local/bin/sbs", "verify", "--json", "--root", "/srv/demo"])
    }

    @Test func withoutBackupsThereAreNoBackupUnits() throws {
        let units = try units(backups: false)
        #expect(
            units.units.map(\.name) == [
                "sbs-renew.service", "sbs-renew.timer", "sbs-verify.service", "sbs-verify.timer",
            ])
        #expect(units.timers == ["sbs-renew.timer", "sbs-verify.timer"])
        #expect(!units.units.contains { $0.text.contains("backup") })
    }

    @Test func awkwardPathsAreQuotedSoEveryWordComesBackAsItWas() throws {
        // Spaces, both quotes, a backslash, a specifier and a variable: legal in a path, each meaningful to systemd
        // (the program's own path may hold only spaces and `%` of these; see below).
        let executable = "/opt/my tools/100%/sbs"
        let root = "/srv/a b%n"
        let project = ComposeProject(name: "sbs-1234abcd", directory: root + "/opt/it's here")
        let units = try units(executable: executable, root: root, project: project)
        let renew = try UnitFileReader.words(
            try #require(unit(units, "sbs-renew.service").values("Service", "ExecStart").first))
        #expect(renew == [executable, "renew", "--wait-for-lock", "900", "--root", root])
        let backup = try UnitFileReader.words(
            try #require(unit(units, "sbs-backup.service").values("Service", "ExecStart").first))
        #expect(backup == [executable, "backup", "--wait-for-lock", "900", "--root", root])
    }

    @Test(arguments: [
        "/usr/bin/sbs\nExecStartPre=/bin/rm -rf /", "/usr/bin/sbs\r", "/usr/\tbin/sbs", "/usr/bin/sbs\u{7f}",
        "/usr/bin/\u{85}sbs", "sbs", "", "relative/sbs",
    ])
    func hostilePathsAreRefused(_ path: String) throws {
        #expect(throws: UserError.self) { try units(executable: path) }
        #expect(throws: UserError.self) { try units(root: path) }
        #expect(throws: UserError.self) { try units(project: ComposeProject(name: "sbs", directory: path)) }
    }

    @Test(arguments: ["/opt/\"q\"/sbs", "/opt/it's/sbs", "/opt/back\\slash/sbs", "/opt/$HOME/sbs"])
    func aProgramPathSystemdWouldRefuseOrReadDifferentlyIsRefused(_ path: String) throws {
        #expect(throws: UserError.self) { try units(executable: path) }
        // The same characters are fine elsewhere: they are quoted.
        #expect(throws: Never.self) { try units(root: path) }
    }

    @Test func aProjectNameWithALineBreakIsRefused() throws {
        #expect(throws: UserError.self) {
            try units(project: ComposeProject(name: "sbs\n[Service]", directory: "/opt/sbs"))
        }
    }
}

/// The rendered units through systemd's own parser, offline: `systemd-analyze verify --man=no FILE…` loads each
/// unit from its path (its folder joins the search path, so a timer finds its service), checks every setting and
/// that each ExecStart program exists and is executable; it needs no running systemd.
@Suite struct SystemdAnalyzeVerify {
    static let tool = "/usr/bin/systemd-analyze"

    func requireTool() throws {
        try Integration.require(tools: Self.tool, install: "apt-get install systemd")
    }

    /// The `sbs` this test run built (beside the test bundle), else any executable that exists.
    var existingExecutable: String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundle, bundle.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("sbs").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return "/bin/true"
    }

    /// The units for a binary in a folder whose name needs every kind of quoting, with the backup script present.
    func render(in folder: String, executableName: String = "sbs") throws -> (units: [SystemdUnit], files: [String]) {
        let binFolder = folder + "/bin dir 50%"
        try FileManager.default.createDirectory(atPath: binFolder, withIntermediateDirectories: true)
        try? FileManager.default.createSymbolicLink(atPath: binFolder + "/sbs", withDestinationPath: existingExecutable)
        let deploy = folder + "/opt/sbs"
        try FileManager.default.createDirectory(atPath: deploy + "/backup", withIntermediateDirectories: true)
        try "#!/bin/sh\nexit 0\n".write(toFile: deploy + "/backup/backup.sh", atomically: true, encoding: .utf8)
        chmod(deploy + "/backup/backup.sh", 0o755)
        // The root is only ever an argument and a writable path (which need not exist): every kind of quoting is
        // needed there. Not in /tmp, so that the services keep their private /tmp.
        let units = try SystemdUnits(
            executable: binFolder + "/" + executableName, root: "/srv/sbs root 50% $HOME \"q\" it's \\",
            project: ComposeProject(name: "sbs-test", directory: deploy),
            backups: true)
        let unitFolder = folder + "/etc/systemd/system"
        try FileManager.default.createDirectory(atPath: unitFolder, withIntermediateDirectories: true)
        for unit in units.units {
            try unit.text.write(toFile: unitFolder + "/" + unit.name, atomically: true, encoding: .utf8)
        }
        return (units.units, units.units.map { unitFolder + "/" + $0.name })
    }

    func verify(_ files: [String]) throws -> (status: Int32, output: String) {
        try runTool([Self.tool, "verify", "--man=no"] + files)
    }

    @Test func systemdAcceptsEveryRenderedUnit() throws {
        try requireTool()
        let folder = try temporaryFolder("units")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (_, files) = try render(in: folder)
        #expect(try String(contentsOfFile: files[0], encoding: .utf8).contains("PrivateTmp=yes"))
        let result = try verify(files)
        #expect(result.status == 0, "\(result.output)")
        // Not even a warning (an unknown key or a value systemd ignores is only a warning, with status 0).
        let warnings = result.output.split(separator: "\n").filter { $0.contains("sbs-") || $0.contains(folder) }
        #expect(warnings.isEmpty, "\(result.output)")
    }

    /// configure-firewall's unit: loads the ruleset before the network, once, at boot.
    @Test func systemdAcceptsTheFirewallUnit() throws {
        try requireTool()
        try Integration.require(tools: "/usr/sbin/nft", install: "apt-get install -y nftables")
        let folder = try temporaryFolder("firewall unit")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let unit = try SystemdUnits.firewall(nft: "/usr/sbin/nft", rules: folder + "/etc/sbs/firewall 50%.nft")
        #expect(unit.name == "sbs-firewall.service")
        #expect(unit.text.contains("ExecStart=\"/usr/sbin/nft\" -f \"\(folder)/etc/sbs/firewall 50%%.nft\"\n"))
        for line in [
            "Type=oneshot", "RemainAfterExit=yes", "Before=network-pre.target network-online.target shutdown.target",
            "WantedBy=sysinit.target",
        ] {
            #expect(unit.text.contains(line + "\n"), "\(line)")
        }
        let file = folder + "/" + unit.name
        try unit.text.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try verify([file])
        #expect(result.status == 0, "\(result.output)")
        #expect(!result.output.contains("sbs-firewall"), "\(result.output)")
        #expect(throws: UserError.self) { try SystemdUnits.firewall(nft: "nft", rules: "/etc/sbs/firewall.nft") }
    }

    @Test func systemdCatchesABrokenUnit() throws {
        try requireTool()
        let folder = try temporaryFolder("units-broken")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A program that is not there.
        let (_, missing) = try render(in: folder, executableName: "no-such-sbs")
        let result = try verify(missing.filter { $0.hasSuffix("sbs-verify.service") })
        #expect(result.status != 0)
        #expect(result.output.contains("is not executable"), "\(result.output)")

        // The same units without the quoting: the folder's spaces split the program's path, which systemd rejects.
        let (_, files) = try render(in: folder)
        let service = try #require(files.first { $0.hasSuffix("sbs-verify.service") })
        let text = try String(contentsOfFile: service, encoding: .utf8)
        let unquoted = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("ExecStart=") ? line.replacingOccurrences(of: "\"", with: "") : String(line)
        }.joined(separator: "\n")
        try unquoted.write(toFile: service, atomically: true, encoding: .utf8)
        let broken = try verify([service])
        #expect(broken.status != 0, "\(broken.output)")

        // A value that is not a calendar spec.
        let timer = try #require(files.first { $0.hasSuffix("sbs-renew.timer") })
        let timerText = try String(contentsOfFile: timer, encoding: .utf8)
        try timerText.replacingOccurrences(of: "OnCalendar=*-*-* 00,12:00:00", with: "OnCalendar=twice a day")
            .write(toFile: timer, atomically: true, encoding: .utf8)
        let badTimer = try verify([timer, timer.replacingOccurrences(of: ".timer", with: ".service")])
        #expect(badTimer.status != 0)
        #expect(badTimer.output.contains("Failed to parse calendar specification"), "\(badTimer.output)")
    }
}
