import ArgumentParser
import FoundationEssentials
import Installer
import SBSCore

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
