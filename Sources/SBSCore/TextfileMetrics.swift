import FoundationEssentials
import Glibc

/// sbs's own metrics, for node_exporter's textfile collector: one file per command in `/var/lib/sbs/metrics/`
/// (`sbs-backup.prom`, `sbs-renew.prom`, `sbs-verify.prom`, `sbs-containers.prom`) in Prometheus' text format, written whole and renamed
/// into place, so the collector never reads half a file. The alert rules read them (`BackupTooOld`,
/// `RenewalNotChecked`, `VerifyFailing`). Nothing in them is secret: the folder and files are world-readable, for
/// an exporter that runs as nobody.
public enum TextfileMetrics {
    /// The metric types sbs writes.
    public enum Kind: String, Sendable {
        case gauge, counter
    }

    /// One sample.
    public struct Sample: Sendable, Equatable {
        public var name: String
        public var help: String
        public var type: Kind
        public var labels: [(String, String)]
        public var value: Double

        public init(
            _ name: String, help: String, type: Kind = .gauge, labels: [(String, String)] = [], value: Double
        ) {
            self.name = name
            self.help = help
            self.type = type
            self.labels = labels
            self.value = value
        }

        public static func == (a: Sample, b: Sample) -> Bool {
            a.name == b.name && a.help == b.help && a.type == b.type && a.value == b.value
                && a.labels.map { [$0.0, $0.1] } == b.labels.map { [$0.0, $0.1] }
        }
    }

    public static func directory(in layout: Layout) -> String { layout.stateDir + "/metrics" }

    /// The text format: `# HELP` and `# TYPE` once per name (the first sample's type), in the order names first appear, then its
    /// samples.
    public static func render(_ samples: [Sample]) -> String {
        var names: [String] = []
        for sample in samples where !names.contains(sample.name) { names.append(sample.name) }
        var text = ""
        for name in names {
            let group = samples.filter { $0.name == name }
            text +=
                "# HELP \(name) \(escaped(group[0].help, quotes: false))\n# TYPE \(name) \(group[0].type.rawValue)\n"
            for sample in group {
                let labels = sample.labels.map { "\($0.0)=\"\(escaped($0.1, quotes: true))\"" }
                text += name + (labels.isEmpty ? "" : "{\(labels.joined(separator: ","))}") + " "
                text += format(sample.value) + "\n"
            }
        }
        return text
    }

    /// Writes `samples` as `sbs-JOB.prom` when the installation's state folder exists (the folder made 0755, the
    /// file 0644).
    /// - Throws: `UserError` when the folder or file cannot be written.
    public static func write(_ samples: [Sample], job: String, in layout: Layout) throws(UserError) {
        guard AtomicFile.exists(layout.stateDir) else { return }
        let directory = directory(in: layout)
        try AtomicFile.makeDirectories(directory, mode: 0o755)
        try AtomicFile.write(render(samples), to: "\(directory)/sbs-\(job).prom", mode: 0o644)
    }

    /// A whole number without a fraction (timestamps, byte counts), anything else as Swift prints a Double.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    /// Backslash and line break escaped (and the double quote inside a label value), as the format requires.
    static func escaped(_ text: String, quotes: Bool) -> String {
        var out = ""
        for character in text {
            switch character {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\"" where quotes: out += "\\\""
            default: out.append(character)
            }
        }
        return out
    }
}
