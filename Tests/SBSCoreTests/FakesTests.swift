import Foundation
import Processes
import SBSCore
import TestSupport
import Testing

/// The shared fakes fail closed: what their script does not hold fails the test and throws, never succeeds.
@Suite struct FakesFailClosed {
    @Test func theScriptedRunnerAnswersItsScriptInOrderAndNothingElse() async throws {
        let ps = ["docker", "compose", "ps"]
        let up = ["docker", "compose", "up"]
        let runner = ScriptedRunner([
            ps: .ok("first"),
            ps: .ok("second").repeating,
            up: .exit(1, stderr: "no").changing(ps, to: .ok("after up")),
        ])
        #expect(try await runner.run(ps, timeout: .seconds(1)).stdout == "first")
        #expect(try await runner.run(ps, timeout: .seconds(1)).stdout == "second")
        #expect(try await runner.run(ps, timeout: .seconds(1)).stdout == "second", "a repeating reply answers again")
        #expect(try await runner.run(up, timeout: .seconds(1)) == CommandResult(status: 1, stdout: "", stderr: "no"))
        #expect(try await runner.run(ps, timeout: .seconds(1)).stdout == "after up")
        #expect(runner.unused.isEmpty)

        await withKnownIssue("a second up is not in the script") {
            _ = try await runner.run(up, timeout: .seconds(1))
        }
        await withKnownIssue("ps answered once after up") {
            _ = try await runner.run(ps, timeout: .seconds(1))
        }
        await withKnownIssue("an argv that differs in one word") {
            _ = try await runner.run(["docker", "compose", "up", "--detach"], timeout: .seconds(1))
        }
        #expect(runner.calls.count == 8)
        #expect(ScriptedRunner([up: .ok()]).unused == [up])
    }

    @Test func theRefusingRunnerRefuses() async {
        await withKnownIssue {
            _ = try await RefusingRunner().run(["true"], timeout: .seconds(1))
        }
    }

    @Test func theScriptedServerAnswersItsScriptAndListsWhatItDidNotExpect() async throws {
        let server = try ScriptedHTTPServer(["GET /a": .json(#"{"a":1}"#), "POST /s": .ndjson(["one", "two"])])
        defer { server.stop() }
        #expect(try fetch("GET", "/a", port: server.port) == (200, #"{"a":1}"#))
        let streamed = try fetch("POST", "/s", port: server.port)
        #expect(streamed == (200, "one\ntwo\n"), "\(streamed)")
        #expect(try fetch("GET", "/a", port: server.port).0 == 599, "asked once more than scripted")
        #expect(try fetch("GET", "/b", port: server.port).0 == 599)
        #expect(server.unexpected == ["GET /a", "GET /b"])
        #expect(server.unused.isEmpty)
    }

    /// One request to the server over a plain socket: its status and body (chunks joined).
    func fetch(_ method: String, _ path: String, port: Int) throws -> (Int, String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        try #require(connected)
        let text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
        _ = text.withCString { send(fd, $0, strlen($0), 0) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            bytes += buffer[..<count]
        }
        let response = String(decoding: bytes, as: UTF8.self)
        let parts = response.components(separatedBy: "\r\n\r\n")
        let status = Int(parts[0].split(separator: " ")[1]) ?? 0
        var body = parts.dropFirst().joined(separator: "\r\n\r\n")
        if parts[0].contains("Transfer-Encoding: chunked") {
            var joined = ""
            var rest = Substring(body)
            while let newline = rest.range(of: "\r\n"), let size = Int(rest[..<newline.lowerBound], radix: 16), size > 0
            {
                let start = newline.upperBound
                let end = rest.utf8.index(start, offsetBy: size)
                joined += rest[start..<end]
                rest = rest[rest.utf8.index(end, offsetBy: 2)...]  // "\r\n" is one Character: step over its bytes
            }
            body = joined
        }
        return (status, body)
    }
}
