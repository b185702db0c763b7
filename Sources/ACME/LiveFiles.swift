import FoundationEssentials
import SBSCore
import X509

#if canImport(Glibc)
    import Glibc
#endif

/// The four files nginx and others read: `cert.pem` (leaf), `chain.pem` (intermediates), `fullchain.pem`
/// (both) and `privkey.pem` (0600), laid out as certbot does: each installation is a new numbered version folder
/// under the archive (`<ssl>/archive/DOMAIN/N/` for `<ssl>/live/DOMAIN`), and the live path is a symbolic link to
/// it, switched with one rename. A crash, or an nginx reload at any moment, sees the old four files or the new
/// four, never a key of one with the certificate of the other.
public enum LiveFiles {
    /// How many versions are kept in the archive (the live one included).
    public static let keptVersions = 3

    /// Where the versions of `liveDirectory` are kept: `PARENT/archive/NAME` when the live folder sits in a
    /// `live/` folder, else `PARENT/.NAME.versions` beside it (a `cert issue --out DIR`).
    public static func archiveDirectory(for liveDirectory: String) -> String {
        let parent = FileIO.parent(of: liveDirectory)
        let name = FileIO.baseName(of: liveDirectory)
        if FileIO.baseName(of: parent) == "live" {
            return FileIO.parent(of: parent) + "/archive/" + name
        }
        return parent + "/." + name + ".versions"
    }

    /// The four files of a version, sorted: all sbs writes there, and all it ever deletes from a version folder.
    public static let fileNames = ["cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"]

    /// Refuses a live path that sbs did not make, before anything is asked of a CA or written: sbs replaces
    /// only nothing, its own link (into the archive for that path, as `write` makes it), or a folder holding
    /// exactly the four files (a live folder from before versions, which is moved into the archive). A folder
    /// with anything else, a file, someone else's link or a device stays as it is.
    /// - Throws: `ACMEError` (`.local`) naming the path and what is there.
    public static func checkReplaceable(_ live: String) throws {
        let name = FileIO.baseName(of: live)
        guard !name.isEmpty, name != ".", name != ".." else {
            throw ACMEError.local(
                "\(live) cannot be a certificate folder: it must end with a folder name.",
                remedy: "Give the path of the folder to create, such as /etc/ssl/sbs/shop.example.com.")
        }
        guard let status = AtomicFile.status(of: live, followingLinks: false) else { return }
        let what: String
        switch status.kind {
        case .link:
            let target = linkTarget(live)
            if let target, isOwnLink(live, target: target) { return }
            what = "a link sbs did not make (to \(target ?? "?"))"
        case .directory:
            let names = FileIO.list(live)
            if names == fileNames,
                names.allSatisfy({ AtomicFile.status(of: live + "/" + $0, followingLinks: false)?.kind == .file })
            {
                return
            }
            let others = names.filter { !fileNames.contains($0) }
            if !others.isEmpty {
                what =
                    "a folder holding files sbs did not write (\(others.prefix(5).joined(separator: ", "))\(others.count > 5 ? ", …" : ""))"
            } else if names.isEmpty {
                what = "an empty folder sbs did not make"
            } else {
                what = "a folder whose certificate files are not the four plain files sbs writes"
            }
        case .file:
            what = "a file"
        case .other:
            what = "neither a folder nor a link"
        }
        throw ACMEError.local(
            "sbs will not replace \(live): it is \(what). sbs replaces only a certificate folder or link it made itself.",
            remedy:
                "Move \(live) away yourself and run the same command again, or have sbs write to a path that does not exist yet (sbs creates it)."
        )
    }

    /// Whether `target` (the link at `live`) is what `write` makes: the relative path to a numbered version in
    /// `live`'s archive.
    static func isOwnLink(_ live: String, target: String) -> Bool {
        let archive = relativePath(from: FileIO.parent(of: live), to: archiveDirectory(for: live))
        guard target.hasPrefix(archive + "/") else { return false }
        let version = target.dropFirst(archive.count + 1)
        return !version.isEmpty && version.allSatisfy { $0.isASCII && $0.isNumber }
    }

    static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4097)
        let count = readlink(path, &buffer, 4096)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Writes a new version and switches `directory` (the live path) to it.
    /// - Throws: `ACMEError` (`.local`) when `directory` is not sbs's to replace (`checkReplaceable`; nothing is
    ///   written then), a file cannot be written or the link cannot be switched.
    public static func write(leafPEM: String, chainPEMs: [String], keyPEM: String, to directory: String) throws {
        try checkReplaceable(directory)
        let archive = archiveDirectory(for: directory)
        try FileIO.makeDirectories(archive, mode: 0o755)
        let version = try makeVersionDirectory(in: archive)
        let chain = chainPEMs.joined()
        try FileIO.writeAtomically(keyPEM, to: version + "/privkey.pem", mode: 0o600)
        try FileIO.writeAtomically(leafPEM, to: version + "/cert.pem", mode: 0o644)
        try FileIO.writeAtomically(chain, to: version + "/chain.pem", mode: 0o644)
        try FileIO.writeAtomically(leafPEM + chain, to: version + "/fullchain.pem", mode: 0o644)
        try switchLink(directory, to: version)
        prune(archive, keeping: FileIO.baseName(of: version))
    }

    /// The next free number in `archive` (1, 2, …), created exclusively so that two writers never share one.
    static func makeVersionDirectory(in archive: String) throws -> String {
        var next = (FileIO.list(archive).compactMap { Int($0) }.max() ?? 0) + 1
        while true {
            let path = archive + "/\(next)"
            if mkdir(path, 0o755) == 0 {
                chmod(path, 0o755)
                return path
            }
            guard errno == EEXIST else {
                throw ACMEError.local(
                    "mkdir \(path) failed: \(String(cString: strerror(errno)))",
                    remedy: "Check the permissions and the free space of \(archive).")
            }
            next += 1
        }
    }

    /// Points `live` at `version` with one rename of a new link over it. A live path that is still a real folder
    /// (written before versions) is moved into the archive first.
    static func switchLink(_ live: String, to version: String) throws {
        let parent = FileIO.parent(of: live)
        try FileIO.makeDirectories(parent, mode: 0o755)
        if AtomicFile.status(of: live, followingLinks: false)?.kind == .directory {
            let legacy = FileIO.parent(of: version) + "/0"
            if rename(live, legacy) != 0 {
                throw ACMEError.local(
                    "Could not move the folder \(live) to \(legacy): \(String(cString: strerror(errno)))",
                    remedy: "Move it away by hand and run the same command again.")
            }
        }
        let target = relativePath(from: parent, to: version)
        let temp = parent + "/.\(FileIO.baseName(of: live)).link-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard symlink(target, temp) == 0 else {
            throw ACMEError.local(
                "Could not create the link \(temp): \(String(cString: strerror(errno)))",
                remedy: "Check the permissions of \(parent).")
        }
        guard rename(temp, live) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temp)
            throw ACMEError.local(
                "Could not switch \(live) to the new certificate: \(reason)",
                remedy: "Check that \(live) is not a file, then run the same command again.")
        }
        AtomicFile.syncDirectory(parent)
    }

    /// `to` relative to the folder `from` (both absolute), so that the link also resolves where the folder is
    /// mounted elsewhere (the stack's nginx sees `<ssl>` as /etc/nginx/ssl).
    static func relativePath(from: String, to: String) -> String {
        let a = from.split(separator: "/")
        let b = to.split(separator: "/")
        var common = 0
        while common < a.count && common < b.count && a[common] == b[common] { common += 1 }
        let ups = Array(repeating: "..", count: a.count - common)
        let rest = b[common...].map(String.init)
        return (ups + rest).joined(separator: "/")
    }

    /// Removes versions older than the newest `keptVersions` (never `current`): the four files sbs writes, then
    /// the folder if that left it empty. Anything else found in a version folder stays.
    static func prune(_ archive: String, keeping current: String) {
        let versions = FileIO.list(archive).compactMap { Int($0) }.sorted()
        for old in versions.dropLast(keptVersions) where "\(old)" != current {
            let path = archive + "/\(old)"
            guard AtomicFile.status(of: path, followingLinks: false)?.kind == .directory else { continue }
            for name in fileNames where AtomicFile.status(of: path + "/" + name, followingLinks: false)?.kind == .file {
                unlink(path + "/" + name)
            }
            rmdir(path)
        }
    }

    /// What `check` found: the leaf and the names it covers.
    public struct Installed: Sendable {
        public var notAfter: Date
        public var names: [String]
    }

    /// Checks the installed files as nginx will use them: `privkey.pem` is the key of the leaf in `cert.pem`,
    /// `fullchain.pem` starts with that leaf, and the leaf covers every one of `domains` (a wildcard covers one
    /// label).
    /// - Throws: `ACMEError` (`.local`) naming the file and what does not match.
    @discardableResult
    public static func check(_ directory: String, covering domains: [String]) throws -> Installed {
        func text(_ name: String) throws -> String {
            guard let value = try FileIO.readText(directory + "/" + name, limit: .pem) else {
                throw ACMEError.local("\(directory)/\(name) does not exist.", remedy: "Obtain the certificate again.")
            }
            return value
        }
        let leaf = try CertificateTools.parseChain(try text("cert.pem"), what: directory + "/cert.pem")[0]
        let full = try CertificateTools.parseChain(try text("fullchain.pem"), what: directory + "/fullchain.pem")
        guard full[0] == leaf else {
            throw ACMEError.local(
                "\(directory)/fullchain.pem does not start with the certificate in cert.pem.",
                remedy: "Obtain the certificate again.")
        }
        let keyText = try text("privkey.pem")
        let key: Certificate.PrivateKey
        do { key = try Certificate.PrivateKey(pemEncoded: keyText) } catch {
            throw ACMEError.local(
                "\(directory)/privkey.pem is not a private key sbs can read: \(error)",
                remedy: "Obtain the certificate again.")
        }
        guard CertificateTools.matches(key, leaf) else {
            throw ACMEError.local(
                "\(directory)/privkey.pem is not the key of the certificate in \(directory)/cert.pem.",
                remedy: "Obtain the certificate again (the files are replaced together).")
        }
        let names = CertificateTools.dnsNames(of: leaf).map { $0.lowercased() }
        for domain in domains.map({ $0.lowercased() }) where !covers(names, domain) {
            throw ACMEError.local(
                "The certificate in \(directory) does not cover \(domain) (it names \(names.joined(separator: ", "))).",
                remedy: "Obtain a certificate for every name.")
        }
        return Installed(notAfter: leaf.notValidAfter, names: names)
    }

    static func covers(_ names: [String], _ domain: String) -> Bool {
        if names.contains(domain) { return true }
        guard let dot = domain.firstIndex(of: ".") else { return false }
        return names.contains("*" + domain[dot...])
    }
}
