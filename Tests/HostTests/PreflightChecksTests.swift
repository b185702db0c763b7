import Foundation
import SBSCore
import Synchronization
import TestSupport
import Testing

@testable import Host

@Suite("PreflightChecks checks")
struct PreflightTests {
    @Test func portHeldByAProcessIsNamedWithItsPid() throws {
        let preflight = PreflightChecks(sysroot: Fixtures.host("vm-16g-no-gpu"))
        let http = preflight.checkPort(try Port(80), purpose: "http")
        #expect(http.status == .fail)
        #expect(http.id == "port-http")
        #expect(http.detail.contains("apache2 (pid 4242)"))
        #expect(http.detail.contains("0.0.0.0"))
        #expect(http.remedy?.contains("systemctl disable --now apache2") == true)

        let https = preflight.checkPort(try Port(443), purpose: "https")
        #expect(https.status == .fail)
        #expect(https.detail.contains("socket inode 54321"))
        #expect(https.detail.contains("::"))

        // Only LISTEN sockets count (the fixture has an established connection from local port 80 too).
        #expect(PortListenerTable(sysroot: Fixtures.host("vm-16g-no-gpu")).listeners(on: 80).count == 1)
        #expect(preflight.checkPort(try Port(8080), purpose: "http").status == .pass)
        #expect(preflight.checkPort(try Port(80), purpose: "http", acceptingOwners: ["apache2"]).status == .pass)
        #expect(
            PortListenerTable(sysroot: Fixtures.host("vm-16g-no-gpu")).listeners(on: 631).first?.address == "127.0.0.1")
    }

    @Test func aRealListenerOnThisMachineIsFound() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(bound == 0)
        #expect(listen(fd, 1) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let result = PreflightChecks().checkPort(try Port(port), purpose: "http")
        #expect(result.status == .fail)
        #expect(result.detail.contains("pid \(getpid())"))
    }

    @Test func hexAddressesDecode() {
        #expect(PortListenerTable.decodeAddress("0100007F", v6: false) == "127.0.0.1")
        #expect(PortListenerTable.decodeAddress("00000000000000000000000001000000", v6: true) == "::1")
        #expect(PortListenerTable.decodeAddress("B80D0120000000000000000001000000", v6: true) == "2001:db8::1")
    }

    @Test func rootCheck() {
        #expect(PreflightChecks().checkRoot(effectiveUserID: 0).status == .pass)
        let notRoot = PreflightChecks().checkRoot(effectiveUserID: 1000)
        #expect(notRoot.status == .fail && notRoot.remedy?.contains("sudo") == true)
    }

    @Test func operatingSystems() {
        let preflight = PreflightChecks()
        #expect(
            preflight.checkOperatingSystem(
                OSFacts(id: "debian", versionID: "12", prettyName: "Debian 12"), architecture: "x86_64"
            ).status == .pass)
        #expect(
            preflight.checkOperatingSystem(
                OSFacts(id: "ubuntu", versionID: "24.04", prettyName: "Ubuntu"), architecture: "aarch64"
            ).status == .pass)
        let old = preflight.checkOperatingSystem(
            OSFacts(id: "debian", versionID: "10", prettyName: "Debian 10"), architecture: "x86_64")
        #expect(old.status == .fail && old.remedy?.contains("Debian 11/12/13") == true)
        #expect(
            preflight.checkOperatingSystem(
                OSFacts(id: "linuxmint", idLike: ["ubuntu", "debian"], versionID: "21", prettyName: "Mint"),
                architecture: "x86_64"
            ).status == .warn)
        #expect(
            preflight.checkOperatingSystem(
                OSFacts(id: "fedora", versionID: "40", prettyName: "Fedora"), architecture: "x86_64"
            ).status == .fail)
        #expect(
            preflight.checkOperatingSystem(
                OSFacts(id: "debian", versionID: "12", prettyName: "Debian"), architecture: "riscv64"
            ).status == .fail)
    }

    @Test func diskSpace() {
        let preflight = PreflightChecks()
        #expect(preflight.checkDiskSpace(DiskFacts(path: "/opt", freeMiB: 50 * 1024), requiredGiB: 40).status == .pass)
        let full = preflight.checkDiskSpace(DiskFacts(path: "/opt", freeMiB: 10 * 1024), requiredGiB: 40)
        #expect(full.status == .fail && full.detail.contains("10 GiB") && full.remedy != nil)
        #expect(preflight.checkDiskSpace(nil, requiredGiB: 40).status == .warn)
    }

    @Test func clockSanity() {
        let preflight = PreflightChecks()
        #expect(preflight.checkClock(now: Date()).status == .pass)
        #expect(preflight.checkClock(now: Date(timeIntervalSince1970: 1_600_000_000)).status == .fail)
        let skewed = preflight.checkClock(now: Date(), reference: Date().addingTimeInterval(3600))
        #expect(skewed.status == .fail && skewed.remedy?.contains("timedatectl") == true)
        #expect(preflight.checkClock(now: Date(), reference: Date().addingTimeInterval(20)).status == .pass)
    }

    @Test func heldPackageLockIsWaitedForThenReported() async throws {
        let tree = try TemporaryDirectory()
        try tree.write("var/lib/dpkg/lock-frontend", "")
        let lockPath = tree.path + "/var/lib/dpkg/lock-frontend"
        // An open-file-description lock through a second descriptor: the probe (another descriptor) sees it.
        let holder = open(lockPath, O_RDWR)
        defer { close(holder) }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        #expect(fcntl(holder, 37 /* F_OFD_SETLK */, &lock) == 0)

        let messages = Mutex<[String]>([])
        let preflight = PreflightChecks(sysroot: Sysroot(tree.path))
        let result = await preflight.waitForPackageManagerLock(
            probe: FcntlLockProbe(), timeout: .seconds(10), pollInterval: .seconds(2), clock: ImmediateClock()
        ) { message in messages.withLock { $0.append(message) } }
        #expect(result.status == .fail)
        #expect(result.detail.contains("/var/lib/dpkg/lock-frontend"))
        // What to do about the lock; what to run next is the command's to say (sbs install: `sbs resume`).
        #expect(result.remedy?.contains("Do not delete the lock file") == true)
        #expect(result.remedy?.contains("sbs resume") == false)
        #expect(messages.withLock { $0.count } == 1)
        #expect(messages.withLock { $0.first?.contains("Waiting for the package manager") } == true)

        lock.l_type = Int16(F_UNLCK)
        #expect(fcntl(holder, 37, &lock) == 0)
        let free = await preflight.waitForPackageManagerLock(probe: FcntlLockProbe(), clock: ImmediateClock()) { _ in }
        #expect(free.status == .pass)
    }

    @Test(.requires("/usr/bin/python3", install: "apt-get install -y python3; it holds the lock"))
    func lockHeldByAnotherProcessNamesIt() async throws {
        let tree = try TemporaryDirectory()
        try tree.write("var/lib/dpkg/lock", "")
        let lockPath = tree.path + "/var/lib/dpkg/lock"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [
            "-c",
            "import fcntl,sys,time\nf=open(sys.argv[1],'w')\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint('locked',flush=True)\ntime.sleep(30)",
            lockPath,
        ]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        defer {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        _ = output.fileHandleForReading.availableData  // waits for "locked"
        let holder = FcntlLockProbe().holder(of: lockPath)
        #expect(holder?.pid == process.processIdentifier)
        #expect(holder?.process?.hasPrefix("python") == true)
    }

    @Test func lockReleasedWhileWaitingPasses() async {
        final class CountingProbe: PackageManagerLockProbe, @unchecked Sendable {
            let calls = Mutex(0)
            func holder(of path: String) -> LockHolder? {
                guard path.hasSuffix("lock-frontend") else { return nil }
                return calls.withLock { count in
                    count += 1
                    return count <= 3 ? LockHolder(pid: 812, process: "unattended-upgr") : nil
                }
            }
        }
        let result = await PreflightChecks().waitForPackageManagerLock(
            probe: CountingProbe(), pollInterval: .seconds(5), clock: ImmediateClock()
        ) { _ in }
        #expect(result.status == .pass)
        #expect(result.detail.contains("15 s"))
    }
}
