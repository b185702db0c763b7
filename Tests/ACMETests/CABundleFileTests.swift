import Foundation
import HTTPClient
import SBSCore
import Synchronization
import TestSupport
import Testing

/// A CA bundle is a file libcurl opens itself, by its path. What sbs reads it refuses unless it is a regular file
/// under its cap; libcurl must not be handed anything else: on a FIFO it would block in open(2), where none of its
/// timeouts reach, and /dev/zero it would read without end.
@Suite struct CABundleFiles {
    final class Flag: Sendable {
        let value = Mutex(false)
    }

    /// A loopback port that completes TCP handshakes (its backlog) and never answers: a client gets as far as TLS.
    static func silentListener() throws -> (fd: Int32, port: Int) {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(listener >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 8) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        try #require(bound)
        return (listener, Int(UInt16(bigEndian: address.sin_port)))
    }

    @Test(.timeLimit(.minutes(1)))
    func aFIFOAsCABundleIsRefusedAtOnceNamingIt() async throws {
        let folder = try Scratch.folder("ca-fifo")
        let fifo = folder + "/ca.pem"
        try #require(mkfifo(fifo, 0o600) == 0)
        let (listener, port) = try Self.silentListener()
        defer { close(listener) }
        let transport = CurlTransport(
            options: HTTPOptions(caBundle: fifo, connectTimeout: .seconds(5), timeout: .seconds(10)))
        let finished = Flag()
        let request = Task {
            defer { finished.value.withLock { $0 = true } }
            return try await transport.send(HTTPRequest(method: .get, url: "https://127.0.0.1:\(port)/directory"))
        }
        // A request blocked in open(2) on the FIFO would never end by itself (its timeouts do not reach there). If
        // it has not ended after 10 s, the FIFO's other end is opened (without blocking): that succeeds only while
        // a reader has it open, which is then a request left waiting in open(2), and lets that request go.
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(10))
        var waitingReader = false
        while !finished.value.withLock({ $0 }) {
            if clock.now > deadline {
                let writer = open(fifo, O_WRONLY | O_NONBLOCK)
                if writer >= 0 {
                    waitingReader = true
                    close(writer)
                }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(!waitingReader, "the request waited in open(2) on the FIFO")
        await #expect {
            _ = try await request.value
        } throws: { error in
            (error as? HTTPTransportError)?.detail
                == "\(fifo) is not a regular file (it is a FIFO); sbs reads only regular files."
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aDeviceOrAnOversizedBundleIsRefusedAndAMissingOneLeftToLibcurl() async throws {
        let folder = try Scratch.folder("ca-files")
        let huge = folder + "/huge.pem"
        let fd = open(huge, O_WRONLY | O_CREAT, 0o600)
        #expect(ftruncate(fd, off_t(ReadLimit.caBundle.bytes + 1)) == 0)
        close(fd)
        let (listener, port) = try Self.silentListener()
        defer { close(listener) }
        let url = "https://127.0.0.1:\(port)/directory"
        func detail(_ bundle: String) async -> String? {
            let transport = CurlTransport(
                options: HTTPOptions(caBundle: bundle, connectTimeout: .seconds(5), timeout: .seconds(5)))
            do {
                _ = try await transport.send(HTTPRequest(method: .get, url: url))
                return nil
            } catch {
                return (error as? HTTPTransportError)?.detail
            }
        }
        #expect(
            await detail("/dev/zero")
                == "/dev/zero is not a regular file (it is a character device); sbs reads only regular files.")
        #expect(
            await detail(folder) == "\(folder) is not a regular file (it is a folder); sbs reads only regular files.")
        #expect(await detail(huge) == "\(huge) is larger than 4 MiB, the most sbs reads for a CA bundle.")
        // Missing: libcurl says so in its own words, as before.
        let missing = await detail(folder + "/missing.pem")
        #expect(missing?.contains("not a regular file") == false && missing?.contains("larger than") == false)
    }
}
