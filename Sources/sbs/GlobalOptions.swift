import ArgumentParser
import FoundationEssentials
import Installer
import SBSCore
import Wizard

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Keep everything sbs writes under DIR (default /).", valueName: "DIR"))
    var root: String = "/"

    @Option(
        help: ArgumentHelp(
            "Read host facts (/proc, /sys, /etc/os-release, nvidia-smi …) from DIR instead of the system (for tests).",
            valueName: "DIR"))
    var sysroot: String?

    @Option(help: ArgumentHelp("Use steps/ and assets/ from DIR instead of those built into sbs.", valueName: "DIR"))
    var assets: String?

    var layout: Layout { Layout(root: absolute(root)) }
}

/// `path` made absolute against the current directory.
func absolute(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    let cwd = FileManager.default.currentDirectoryPath
    return path == "." ? cwd : cwd + "/" + path
}

extension GlobalOptions {
    var session: InstallSession {
        InstallSession(layout: layout, sysroot: sysroot.map(absolute), assetsDirectory: assets.map(absolute))
    }
}

/// `--wait-for-lock SECONDS`, for the commands a timer runs (renew, backup).
struct LockWaitOption: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "When another sbs run holds the installation's lock, wait this long for it before giving up with exit status 75 (the timers wait 900).",
            valueName: "SECONDS"))
    var waitForLock: Int = 0

    func validate() throws {
        guard (0...86_400).contains(waitForLock) else {
            throw ValidationError("--wait-for-lock must be from 0 to 86400 seconds.")
        }
    }

    var duration: Duration { .seconds(waitForLock) }
}

/// A destructive command's confirmation: the domain given with `--confirm`, else typed on the terminal.
struct DomainConfirmation {
    let domain: String
    let given: String?
    let warning: String

    func check() throws {
        if let given {
            guard given == domain else {
                throw UserError(
                    "--confirm \(given.debugSafe) is not this installation's domain; nothing was changed.",
                    remedy: "Give --confirm \(domain) to go on.")
            }
            return
        }
        let terminal: EditLineTerminal
        do { terminal = try EditLineTerminal() } catch {
            throw UserError(
                "This needs the domain \(domain) typed as confirmation, and there is no terminal; nothing was changed.",
                remedy: "Give --confirm \(domain).")
        }
        terminal.write(warning + "\n")
        guard terminal.readLine(prompt: "Type the domain to go on: ", initial: "", completions: [])?.trimmed == domain
        else {
            throw UserError("The domain was not typed as it is; nothing was changed.")
        }
    }
}
