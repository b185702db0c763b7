/// The Strict-Transport-Security header a production install sends (answers `tls.hsts_max_age`,
/// `tls.hsts_include_subdomains` and `tls.hsts_preload`), and the same read back from a served header.
public struct HSTSPolicy: Sendable, Hashable, Codable {
    /// How long a browser keeps to HTTPS for this site after a visit, in seconds. 0 tells browsers to forget what
    /// they kept (the way back from a policy sent before).
    public var maxAge: Int
    /// The policy covers every name under the domain too (`*.DOMAIN`): a browser then refuses plain HTTP on all of
    /// them, an old intranet site or a printer included.
    public var includeSubdomains: Bool
    /// Asks to be built into browsers (hstspreload.org); leaving that list takes months.
    public var preload: Bool

    public init(maxAge: Int, includeSubdomains: Bool = false, preload: Bool = false) {
        self.maxAge = maxAge
        self.includeSubdomains = includeSubdomains
        self.preload = preload
    }

    /// Mozilla's recommendation (ssl-config.mozilla.org): two years, this name only, not preloaded.
    public static let standard = HSTSPolicy(maxAge: maximumMaxAge)

    /// Two years, the longest `tls.hsts_max_age` sbs writes: a typo of an extra digit must not pin browsers for
    /// twenty.
    public static let maximumMaxAge = 63_072_000
    /// One year: hstspreload.org refuses a shorter max-age for a preloaded site.
    public static let preloadMinimumMaxAge = 31_536_000

    /// max-age in words: `2 years`, `180 days`, `90 seconds`.
    public var maxAgeText: String {
        func count(_ number: Int, _ unit: String) -> String { "\(number) \(unit)\(number == 1 ? "" : "s")" }
        if maxAge > 0, maxAge % 31_536_000 == 0 { return count(maxAge / 31_536_000, "year") }
        if maxAge > 0, maxAge % 86400 == 0 { return count(maxAge / 86400, "day") }
        return count(maxAge, "second")
    }

    /// The header's value: `max-age=N`, then `; includeSubDomains` and `; preload` when asked.
    public var headerValue: String {
        "max-age=\(maxAge)" + (includeSubdomains ? "; includeSubDomains" : "") + (preload ? "; preload" : "")
    }

    /// What is wrong with this policy, each problem with the answer it is about (`tls.hsts_preload`); empty when
    /// nothing is.
    public var problems: [(answer: String, message: String)] {
        var problems: [(answer: String, message: String)] = []
        if !(0...Self.maximumMaxAge).contains(maxAge) {
            problems.append(
                (
                    "tls.hsts_max_age",
                    "tls.hsts_max_age must be from 0 (browsers forget the policy) to \(Self.maximumMaxAge) (two years) seconds, not \(maxAge)"
                ))
        }
        if preload && !includeSubdomains {
            problems.append(
                (
                    "tls.hsts_preload",
                    "tls.hsts_preload needs tls.hsts_include_subdomains: true (hstspreload.org refuses a policy without includeSubDomains); set both, or leave tls.hsts_preload out"
                ))
        }
        if preload && maxAge < Self.preloadMinimumMaxAge {
            problems.append(
                (
                    "tls.hsts_preload",
                    "tls.hsts_preload needs tls.hsts_max_age of at least \(Self.preloadMinimumMaxAge) (one year), not \(maxAge); raise it, or leave tls.hsts_preload out"
                ))
        }
        return problems
    }

    /// A served header's value read as browsers read it (RFC 6797 section 6.1): directives separated by `;`, names
    /// in any case, max-age's value possibly quoted, unknown directives ignored.
    /// - Throws: `UserError` saying why a browser would ignore the header: no max-age, a max-age that is not a
    ///   number, a directive given twice.
    public init(header: String) throws(UserError) {
        var maxAge: Int?
        var seen: Set<String> = []
        var includeSubdomains = false
        var preload = false
        for part in header.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmed }
            let name = pair.first?.lowercased() ?? ""
            if name.isEmpty { continue }
            guard seen.insert(name).inserted else {
                throw UserError("it gives \(name) twice, which makes browsers ignore the header")
            }
            switch name {
            case "max-age":
                let text = pair.count == 2 ? pair[1] : ""
                let unquoted =
                    text.count >= 2 && text.hasPrefix("\"") && text.hasSuffix("\"")
                    ? text.dropFirst().dropLast() : Substring(text)
                guard !unquoted.isEmpty, unquoted.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(unquoted)
                else {
                    throw UserError("its max-age '\(text.debugSafe)' is not a number of seconds")
                }
                maxAge = number
            case "includesubdomains": includeSubdomains = true
            case "preload": preload = true
            default: continue
            }
        }
        guard let maxAge else { throw UserError("it has no max-age, which makes browsers ignore the header") }
        self.init(maxAge: maxAge, includeSubdomains: includeSubdomains, preload: preload)
    }
}
