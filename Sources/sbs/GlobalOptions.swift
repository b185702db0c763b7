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
