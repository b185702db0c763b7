import ArgumentParser
import FoundationEssentials
import Glibc
import Host
import Installer
import SBSCore
import StepGraph
import Wizard

/// `sbs upgrade`: the stack on new images, backed up first, rolled back when it does not verify.
struct UpgradeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upgrade",
        abstract:
            "Move the stack to new images: a backup first, then the install's steps; back to the previous images when they fail.",
        discussion: """
            --images FILE names the images as the answers do (`images:` with SERVICE: IMAGE, and `archive:` for a \
            `docker save` archive to load them from); --to VERSION moves the application (app-api, app-web) to that \
            release tag. When a step fails (a service that does not become healthy, verify), the previous \
            images run again; a database whose schema the new version migrated is restored from the backup made \
            first, which is said. The exit status is then 1. Running install.sh again upgrades sbs itself.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(
        help: ArgumentHelp(
            "A YAML file with `images:` as in the answers (SERVICE: IMAGE, and `archive:`).", valueName: "FILE"))
    var images: String?

    @Option(help: ArgumentHelp("The application's release tag for app-api and app-web.", valueName: "VERSION"))
    var to: String?

    @Flag(help: "Upgrade without a backup first (a failed upgrade then cannot restore the database).")
    var skipBackup = false

    func validate() throws {
        guard (images == nil) != (to == nil) else { throw ValidationError("Give --images FILE or --to VERSION.") }
    }

    func run() async throws {
        let session = global.session
        guard geteuid() == 0 else {
            throw UserError(
                "An upgrade changes the stack and reads its secrets, which needs root.", remedy: "Run it with sudo.")
        }
        let lock = try RunLock(path: session.layout.lockFile, remedy: RunLock.rerunRemedy("sbs upgrade"))
        defer { withExtendedLifetime(lock) {} }
        let target: StackUpgrade.Target
        if let images {
            let answers = try AnswersFile.load(absolute(images))
            guard !answers.images.isEmpty || answers.imagesArchive != nil else {
                throw ValidationError("\(images) names no image (`images:` with SERVICE: IMAGE).")
            }
            target = .init(images: answers.images, archive: answers.imagesArchive)
        } else {
            let saved = try session.savedAnswers() ?? Answers()
            var moved: [StackService: ImageReference] = [:]
            for service in [StackService.appAPI, .appWeb] {
                moved[service] = try ImageReference(saved.image(service)).withTag(to ?? "")
            }
            target = .init(images: moved, archive: nil)
        }
        let line = try await StackUpgrade(
            session: session, sbsVersion: BuildVersion.version, sysroot: global.sysroot.map(absolute),
            assets: global.assets.map(absolute), skipBackup: skipBackup
        ).run(to: target, lock: lock)
        session.output.out(line)
    }
}
