import SBSCore

#if canImport(Glibc)
    import Glibc
#endif

/// The TCP ports sshd accepts connections on, read from its configuration (and, on a real host, from the sockets
/// sshd listens on other than loopback), never guessed: a host firewall that leaves out the SSH port locks the administrator out.
public struct SSHPorts: Sendable, Equatable, Codable {
    /// Sorted, each once.
    public var ports: [Int]
    /// Where each port was found (`/etc/ssh/sshd_config.d/port.conf:3`, `sshd listening on 0.0.0.0`), in order.
    public var sources: [String]
    /// False when sshd is not installed and nothing sshd-like listens: there is no SSH port to keep open.
    public var sshdInstalled: Bool

    public init(ports: [Int], sources: [String], sshdInstalled: Bool) {
        self.ports = ports
        self.sources = sources
        self.sshdInstalled = sshdInstalled
    }

    /// `2222 (from /etc/ssh/sshd_config:14)`, for a log line.
    public var summary: String {
        guard !ports.isEmpty else { return "no SSH port (sshd is not installed)" }
        return "SSH port\(ports.count == 1 ? "" : "s") \(ports.map(String.init).joined(separator: ", ")) ("
            + sources.joined(separator: "; ") + ")"
    }
}

/// Reads sshd's configuration as sshd does, through a sysroot: `/etc/ssh/sshd_config` and the files its `Include`
/// lines name (globs; a relative path is relative to `/etc/ssh`; files in the order glob sorts them), keywords in
/// any letter case, `keyword value` or `keyword=value`, `#` comments. `Port` may be given several times and every
/// one counts; `ListenAddress host:port` and `[v6]:port` add their own port, and an address without a port
/// listens on every `Port`. No `Port` at all means 22 (sshd's default). An included file that does not exist is
/// skipped, as sshd skips it. A `Match` block (which may not set `Port`
/// or `ListenAddress`) lasts to the end of its file and is skipped, with any `Include` inside it.
public struct SSHDConfigReader: Sendable {
    public let sysroot: Sysroot
    public static let mainFile = "/etc/ssh/sshd_config"
    /// Where sshd is installed on Debian, Ubuntu and the RHEL family.
    public static let programs = ["/usr/sbin/sshd", "/usr/bin/sshd", "/sbin/sshd"]
    /// sshd's own limit on nested includes.
    static let maximumDepth = 16

    public init(sysroot: Sysroot = Sysroot()) {
        self.sysroot = sysroot
    }

    /// What the configuration says, joined with the ports sshd is seen listening on.
    /// - Throws: `UserError` naming the file when sshd is installed and its configuration (or a file it includes by
    ///   name) cannot be read: a firewall built without it could shut SSH out.
    public func ports(listening: [PortListener] = []) throws(UserError) -> SSHPorts {
        let installed = Self.programs.contains { sysroot.exists($0) } || sysroot.exists(Self.mainFile)
        var found: [Int: [String]] = [:]
        if installed {
            let settings = try read()
            for (port, source) in settings.effectivePorts { found[port, default: []].append(source) }
        }
        // One on loopback only is reached through `lo`, which the firewall accepts whatever the port.
        for listener in listening
        where listener.process == "sshd" && !listener.address.hasPrefix("127.") && listener.address != "::1" {
            found[listener.port, default: []].append("sshd listening on \(listener.address)")
        }
        let ports = found.keys.sorted()
        return SSHPorts(
            ports: ports, sources: ports.map { "\($0): " + (found[$0] ?? []).joined(separator: ", ") },
            sshdInstalled: installed || !ports.isEmpty)
    }

    /// The `Port` and `ListenAddress` lines of the configuration, with where each stands.
    struct Settings {
        var ports: [(Int, String)] = []
        /// An address's port, or nil when it listens on every `Port`.
        var listenAddresses: [(port: Int?, source: String)] = []

        /// sshd's rule: addresses with a port use it; addresses without one (or no `ListenAddress` at all) use
        /// every `Port`, 22 when there is none.
        var effectivePorts: [(Int, String)] {
            var result: [(Int, String)] = []
            for address in listenAddresses {
                if let port = address.port { result.append((port, address.source)) }
            }
            if listenAddresses.isEmpty || listenAddresses.contains(where: { $0.port == nil }) {
                result += ports.isEmpty ? [(22, "sshd's default: no Port line in \(SSHDConfigReader.mainFile)")] : ports
            }
            return result
        }
    }

    func read() throws(UserError) -> Settings {
        var settings = Settings()
        try readFile(Self.mainFile, depth: 0, into: &settings)
        return settings
    }

    func readFile(_ path: String, depth: Int, into settings: inout Settings) throws(UserError) {
        guard let text = sysroot.readText(path) else {
            // sshd skips an included file that does not exist (it globs every Include); one that exists and
            // cannot be read, or a missing main file, leaves the port unknown.
            if depth > 0 && !sysroot.exists(path) { return }
            throw UserError(
                "sbs cannot read \(path)\(sysroot.isRealSystem ? "" : " (under \(sysroot.path))"), sshd's configuration, so it does not know which port SSH uses; a firewall made without it could lock you out.",
                remedy:
                    "Make \(path) readable (a regular file) and run sbs again, or set `firewall: off` in the answers to leave the host firewall as it is."
            )
        }
        guard depth < Self.maximumDepth else {
            throw UserError(
                "\(path): Include is nested more than \(Self.maximumDepth) deep in sshd's configuration.",
                remedy: "Fix the Include lines (sshd refuses this too), or set `firewall: off` in the answers.")
        }
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let words = Self.words(line)
            guard let keyword = words.first?.lowercased() else { continue }
            let arguments = Array(words.dropFirst())
            let source = "\(path):\(index + 1)"
            switch keyword {
            case "match":
                return  // the rest of this file belongs to the Match block
            case "port":
                for argument in arguments {
                    guard let port = Int(argument), (1...65535).contains(port) else {
                        throw UserError(
                            "\(source): '\(argument.debugSafe)' is not a port (sshd would refuse it too).",
                            remedy: "Fix the Port line, or set `firewall: off` in the answers.")
                    }
                    settings.ports.append((port, source))
                }
            case "listenaddress":
                guard let address = arguments.first else { continue }
                settings.listenAddresses.append((try Self.port(ofListenAddress: address, at: source), source))
            case "include":
                for pattern in arguments {
                    let absolute = pattern.hasPrefix("/") ? pattern : "/etc/ssh/" + pattern
                    let isPattern = absolute.contains { "*?[".contains($0) }
                    for file in isPattern ? glob(absolute) : [absolute] {
                        try readFile(file, depth: depth + 1, into: &settings)
                    }
                }
            default:
                continue
            }
        }
    }

    /// `host`, `host:port`, `[v6]:port`, `v6` (a bare IPv6 address has more than one colon and no port).
    static func port(ofListenAddress address: String, at source: String) throws(UserError) -> Int? {
        var portText: Substring?
        if address.hasPrefix("[") {
            guard let close = address.firstIndex(of: "]") else { return nil }
            let rest = address[address.index(after: close)...]
            if rest.hasPrefix(":") { portText = rest.dropFirst() }
        } else if address.filter({ $0 == ":" }).count == 1, let colon = address.firstIndex(of: ":") {
            portText = address[address.index(after: colon)...]
        }
        guard let portText else { return nil }
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw UserError(
                "\(source): ListenAddress '\(address.debugSafe)' has no valid port after the colon.",
                remedy: "Fix the ListenAddress line, or set `firewall: off` in the answers.")
        }
        return port
    }

    /// The line's words as sshd splits them: white space separates, one `=` may stand between the keyword and
    /// its value, double quotes group, and a word starting with `#` ends the line.
    static func words(_ line: Substring) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quoted = false
        for character in line {
            if quoted {
                if character == "\"" { quoted = false } else { current.append(character) }
                continue
            }
            switch character {
            case "\"":
                quoted = true
                inWord = true
            case " ", "\t", "\r":
                if inWord { words.append(current) }
                current = ""
                inWord = false
            case "=" where words.count == 0 && inWord, "=" where words.count == 1 && !inWord && current.isEmpty:
                // `Port=22`, `Port = 22`: the first `=` after the keyword separates.
                if inWord { words.append(current) }
                current = ""
                inWord = false
            case "#" where !inWord:
                return words
            default:
                current.append(character)
                inWord = true
            }
        }
        if inWord { words.append(current) }
        return words
    }

    /// The absolute paths (as seen inside the sysroot) matching `pattern`, sorted.
    func glob(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard Glibc.glob(sysroot.resolve(pattern), 0, nil, &result) == 0 else { return [] }
        let prefix = sysroot.isRealSystem ? "" : sysroot.path
        var paths: [String] = []
        for index in 0..<Int(result.gl_pathc) {
            guard let pointer = result.gl_pathv[index] else { continue }
            let path = String(cString: pointer)
            paths.append(prefix.isEmpty ? path : String(path.dropFirst(prefix.count)))
        }
        return paths.sorted()
    }
}
