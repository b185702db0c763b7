import Foundation
import SBSCore
import TestSupport
import Testing

@testable import Wizard

/// `paths.deploy_dir` is compared as a folder, not as a string: spelled with extra slashes, inside a folder the
/// system or sbs owns, mounted into a container, or reached through a link, it is refused all the same.
@Suite struct DeployFolderRule {
    @Test(arguments: [
        "//etc", "/etc//", "//var/lib/sbs", "/var/lib/docker", "/proc/self", "/etc/systemd/system", "/etc/sbs/ssl",
        "/etc/sbs/ssl/live", "/var/lib/sbs/webroot", "/var/log/sbs", "/", "//", "/opt", "/opt/", "/var", "/usr/local",
        "/tmp/sbs", "/root/sbs", "/home", "/srv//",
    ])
    func aFolderTheSystemOrSbsOwnsIsRefusedHoweverItIsSpelled(_ folder: String) {
        let found = problems("version: 1\npaths:\n  deploy_dir: \"\(folder)\"\n")
        #expect(
            found.count == 1 && found[0].contains("paths.deploy_dir") && found[0].contains("system folder"),
            "\(folder): \(found)")
    }

    @Test(arguments: ["/opt/sbs", "/opt/sbs/", "//srv//sbs", "/home/shop/sbs", "/data/sbs", "/var/www/sbs"])
    func aFolderOfItsOwnIsAcceptedAndKeptNormalised(_ folder: String) throws {
        let answers = try AnswersFile.parse("version: 1\npaths:\n  deploy_dir: \"\(folder)\"\n", file: "site.yaml")
        #expect(answers.deployDir == DeployFolder.normalized(folder))
        #expect(!answers.deployDir.contains("//") && (answers.deployDir == "/" || !answers.deployDir.hasSuffix("/")))
    }

    @Test func aLinkOnTheWayIsFollowedAndWhereItLeadsChecked() throws {
        let dir = try TemporaryDirectory()
        let root = dir.path
        try FileManager.default.createDirectory(atPath: root + "/etc/sbs/ssl", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/opt", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: root + "/opt/sbs", withDestinationPath: root + "/etc/sbs/ssl")
        let intoSSL = try #require(DeployFolder.problem("/opt/sbs", under: root))
        #expect(intoSSL.contains("/etc/sbs/ssl"), "\(intoSSL)")
        // A folder not made yet below the link is judged by where the link leads too.
        #expect(DeployFolder.problem("/opt/sbs/deploy", under: root) != nil)
        try FileManager.default.createSymbolicLink(atPath: root + "/opt/out", withDestinationPath: "/srv")
        let outside = try #require(DeployFolder.problem("/opt/out", under: root))
        #expect(outside.contains("outside the root"), "\(outside)")
        try FileManager.default.createDirectory(atPath: root + "/opt/real", withIntermediateDirectories: true)
        #expect(DeployFolder.problem("/opt/real", under: root) == nil)
        #expect(DeployFolder.problem("/opt/not-yet/made", under: root) == nil)
        #expect(DeployFolder.problem("/proc/self", under: "/") != nil)
    }
}
