/// dockerd pulls images itself, so the office's proxy must be in its own environment: a systemd drop-in for
/// docker.service (as Docker's documentation does it), `docker.service.d/sbs-proxy.conf`. Its values are checked
/// `ProxyURL`s and `NoProxyEntry`s (no blank, quote, backslash or '%'), so they stand in double quotes as they are.
public struct DockerProxy: Sendable, Hashable, Codable {
    public var url: String
    public var noProxy: [String]

    public init(url: String, noProxy: [String]) {
        self.url = url
        self.noProxy = noProxy
    }

    /// Where systemd reads drop-ins of docker.service, and this one's name.
    public static let dropInDirectory = "/etc/systemd/system/docker.service.d"
    public static let dropInName = "sbs-proxy.conf"

    /// The variables dockerd reads (Go's names; it reads the lower-case ones too).
    public var variables: [String: String] {
        ["HTTP_PROXY": url, "HTTPS_PROXY": url, "NO_PROXY": noProxy.joined(separator: ",")]
    }

    /// The drop-in's text.
    public var dropIn: String {
        var text = """
            # Written by sbs from the answers' proxy (proxy.url, proxy.no_proxy): dockerd pulls images through it.
            # sbs writes it again on each install; remove proxy: from the answers to have it removed.
            [Service]

            """
        for name in variables.keys.sorted() { text += "Environment=\"\(name)=\(variables[name] ?? "")\"\n" }
        return text
    }

    /// The variables a drop-in sets: each `Environment=` assignment of its `[Service]` section, one or several per
    /// line, double-quoted or not (systemd's own syntax, without specifiers and escapes, which sbs never writes).
    public static func variables(inDropIn text: String) -> [String: String] {
        var result: [String: String] = [:]
        var section = ""
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingBlanks
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                section = line
                continue
            }
            guard section == "[Service]", line.hasPrefix("Environment=") else { continue }
            for word in words(line.dropFirst("Environment=".count)) {
                guard let equals = word.firstIndex(of: "=") else { continue }
                result[String(word[..<equals])] = String(word[word.index(after: equals)...])
            }
        }
        return result
    }

    /// Blank-separated words, a double-quoted one kept whole without its quotes.
    static func words(_ text: Substring) -> [String] {
        var words: [String] = []
        var current = ""
        var quoted = false
        var inWord = false
        for character in text {
            if character == "\"" {
                quoted.toggle()
                inWord = true
            } else if !quoted && (character == " " || character == "\t") {
                if inWord { words.append(current) }
                current = ""
                inWord = false
            } else {
                current.append(character)
                inWord = true
            }
        }
        if inWord { words.append(current) }
        return words
    }
}

extension Substring {
    fileprivate var trimmingBlanks: String {
        String(
            drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }
                .reversed())
    }
}
