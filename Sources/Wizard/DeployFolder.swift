import SBSCore

#if canImport(Glibc)
    import Glibc
#endif

/// The rule for `paths.deploy_dir`: a folder of its own, never one that the system or sbs owns, nor one mounted
/// into a container (the deploy folder holds `.env` with every secret). Paths are compared after normalising, not
/// as strings: `//etc`, `/etc//` and `/etc` are one folder, and so are a link and where it leads.
public enum DeployFolder {
    /// Trees the deploy folder may be neither inside of nor equal to: the system's own, sbs's own (`/etc/sbs`,
    /// `/var/lib/sbs`, `/var/log/sbs`), those of other services (`/var/lib/docker`), kernel interfaces, folders
    /// everyone may write to, and the folders the compose file mounts into containers (`/etc/sbs/ssl` into nginx,
    /// the ACME webroot `/var/lib/sbs/webroot`), all of which lie in these trees.
    static let ownedTrees: [String] = [
        "/etc", "/proc", "/sys", "/dev", "/run", "/boot", "/usr", "/bin", "/sbin", "/lib",
        "/lib32", "/lib64", "/libx32", "/root", "/tmp", "/snap", "/lost+found",
        "/var/lib", "/var/log", "/var/cache", "/var/spool", "/var/run", "/var/lock",
        "/var/tmp", "/var/backups", "/var/mail", "/var/opt", "/var/local",
    ]
    /// Folders that hold other folders: the deploy folder may be inside them (`/opt/sbs`, `/srv/sbs`), not one of them.
    static let containers: [String] = ["/", "/home", "/opt", "/srv", "/var", "/mnt", "/media", "/usr/local"]

    /// `path` with repeated slashes collapsed, `.` dropped and `..` taken lexically (at `/` it stays `/`); no
    /// trailing slash. `path` must be absolute.
    public static func normalized(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Why `path` (as the answers give it) cannot be the deploy folder, or nil when it can.
    public static func problem(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return "is not an absolute path" }
        if path.split(separator: "/").contains(where: { $0 == "." || $0 == ".." }) {
            return "is not a plain path (. or ..)"
        }
        let folder = normalized(path)
        if let tree = ownedTrees.first(where: { folder == $0 || folder.hasPrefix($0 + "/") }) {
            return "is \(folder == tree ? "" : "inside ")\(tree), a system folder or one sbs owns"
        }
        if containers.contains(folder) || ownedTrees.contains(where: { $0.hasPrefix(folder + "/") }) {
            return "is a system folder"
        }
        return nil
    }

    /// `problem`, for the folder as it is on disk under `root`: the longest part of the path that exists is
    /// resolved (links followed), and where it leads must pass the same rule, inside `root`.
    public static func problem(_ path: String, under root: String) -> String? {
        if let problem = problem(path) { return problem }
        let rootReal = realPath(root) ?? root
        let full = normalized((root == "/" ? "" : root) + normalized(path))
        var existing = full
        var rest: [Substring] = []
        var resolved: String? = nil
        while true {
            if let real = realPath(existing) {
                resolved = real
                break
            }
            if existing == "/" { break }
            rest.insert(Substring(AtomicFile.baseName(of: existing)), at: 0)
            existing = AtomicFile.parentDirectory(of: existing)
        }
        guard let resolved else { return nil }
        let leadsTo = normalized(resolved + "/" + rest.joined(separator: "/"))
        var inside = leadsTo
        if rootReal != "/" {
            guard leadsTo == rootReal || leadsTo.hasPrefix(rootReal + "/") else {
                return "leads to \(leadsTo), outside the root \(root) (a link on the way)"
            }
            inside = String(leadsTo.dropFirst(rootReal.count))
            if inside.isEmpty { inside = "/" }
        }
        if inside != normalized(path), let problem = problem(inside) { return "leads to \(inside), which \(problem)" }
        return nil
    }

    static func realPath(_ path: String) -> String? {
        guard let pointer = realpath(path, nil) else { return nil }
        defer { free(pointer) }
        return String(cString: pointer)
    }
}
