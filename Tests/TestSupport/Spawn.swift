import Foundation

/// Starts `argv` (looked up in PATH) with its standard input and output on /dev/null, in this process's environment
/// plus `environment`, and returns its pid without waiting; nil when it cannot be started. posix_spawn rather than
/// Foundation's Process: a daemon the program leaves behind would inherit the descriptor Process uses to notice
/// its child's exit, and waitUntilExit would never return. `ownProcessGroup` puts it in a group of its own, so
/// that a signal to the test's group does not reach it.
public func spawnQuietly(_ argv: [String], environment: [String: String] = [:], ownProcessGroup: Bool = false) -> pid_t?
{
    var pid: pid_t = 0
    var cArgs = argv.map { strdup($0) } + [nil]
    let env = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    var cEnv = env.map { strdup("\($0)=\($1)") } + [nil]
    defer { for pointer in cArgs + cEnv { free(pointer) } }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    if ownProcessGroup {
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
    }
    guard let program = argv.first, posix_spawnp(&pid, program, &actions, &attributes, &cArgs, &cEnv) == 0 else {
        return nil
    }
    return pid
}

/// Waits for `pid` and returns its exit status, or 128 + the signal that ended it.
public func waitForExit(_ pid: pid_t) -> Int32 {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
}
