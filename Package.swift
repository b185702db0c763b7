// swift-tools-version:6.1
import PackageDescription

// The product imports FoundationEssentials, never Foundation: on Linux, Foundation links ICU and its 30 MB of data
// into the static binary. With MemberImportVisibility a Foundation-only member (String(format:), NSString's
// methods) cannot be used through a dependency's own `import Foundation` without the compiler saying so.
let productSettings: [SwiftSetting] = [.enableUpcomingFeature("MemberImportVisibility")]

let package = Package(
    name: "sbs",
    // Linux only (Debian and Ubuntu servers): no `platforms` entry, since SwiftPM lists only Apple platforms there,
    // and sbs claims none of them (it uses /proc, flock, posix_spawn and libcurl as Linux has them).
    products: [
        .executable(name: "sbs", targets: ["sbs"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // The executable: argument parsing and dispatch only.
        .executableTarget(
            name: "sbs",
            dependencies: [
                "Installer", "ACME", "Backups", "Deploy", "Host", "Migration", "Processes", "Render", "SBSCore",
                "StepGraph", "Verify", "Wizard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: productSettings
        ),

        // Shared vocabulary: the user-facing error, validated values, atomic files, the file layout, the run log.
        .target(name: "SBSCore", swiftSettings: productSettings),

        // The YAML that sbs reads (steps, answers, profiles): a reader of its own, without Foundation.
        .target(name: "YAML", dependencies: ["SBSCore"], swiftSettings: productSettings),

        // Child processes (the command runner: timeouts, process groups, bounded output) and the threads that wait.
        .target(name: "Processes", dependencies: ["SBSCore"], swiftSettings: productSettings),

        // HTTP over libcurl (custom CA bundles, resolve overrides): used by ACME, Verify and Deploy.
        .target(name: "HTTPClient", dependencies: ["CCurl", "SBSCore", "Processes"], swiftSettings: productSettings),

        // Graph model, loader, planner, executor, state store.
        .target(
            name: "StepGraph",
            dependencies: ["SBSCore", "YAML", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: productSettings
        ),

        // Answers model and file, libedit prompts.
        .target(
            name: "Wizard", dependencies: ["SBSCore", "Host", "YAML", "CEditLine"], swiftSettings: productSettings),

        // Host detection and performance profiles.
        .target(name: "Host", dependencies: ["SBSCore", "Processes", "YAML"], swiftSettings: productSettings),

        // Secrets and configuration rendering.
        .target(
            name: "Render",
            dependencies: [
                "SBSCore",
                "Host",
                "YAML",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: productSettings
        ),

        // Backups with restic: the database streamed from its container, the files, the manifest, retention.
        .target(
            name: "Backups", dependencies: ["SBSCore", "Processes", "Deploy"], swiftSettings: productSettings),

        // RFC 8555 client. No step-graph code inside: it serves `sbs cert` as well as the obtain-certificate step.
        .target(
            name: "ACME",
            dependencies: [
                "HTTPClient", "SBSCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: productSettings
        ),

        // Docker: how to install it, the compose command lines and what `docker compose ps` reports.
        .target(
            name: "Deploy",
            dependencies: ["SBSCore", "Host", "Processes", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: productSettings
        ),

        // `sbs verify` and the verify step: the running stack checked over HTTPS (with the domain's SNI) and Docker.
        .target(
            name: "Verify",
            dependencies: [
                "SBSCore", "ACME", "Backups", "HTTPClient", "Processes", "Deploy",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: productSettings
        ),

        // `sbs migrate`: a hosted Supabase project's schema, tables and users copied onto the server with psql and
        // pg_dump, each table verified, resumable.
        .target(
            name: "Migration", dependencies: ["SBSCore", "Processes", "Deploy"], swiftSettings: productSettings),

        // The install: step actions that connect the step graph to the libraries above.
        .target(
            name: "Installer",
            dependencies: [
                "SBSCore", "Processes", "HTTPClient", "StepGraph", "Wizard", "Host", "Render", "ACME", "Backups",
                "Deploy",
                "Verify",
                "BundledAssets",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: productSettings
        ),

        // steps/ and assets/ compiled into the binary with their relative paths.
        .target(name: "BundledAssets", swiftSettings: productSettings, plugins: ["EmbedAssets"]),
        .executableTarget(name: "EmbedAssetsTool"),
        .plugin(name: "EmbedAssets", capability: .buildTool(), dependencies: ["EmbedAssetsTool"]),

        .systemLibrary(name: "CEditLine", pkgConfig: "libedit", providers: [.apt(["libedit-dev"])]),
        // libcurl is loaded on first use (dlopen; see Sources/CCurl/shim.h): only its headers are needed to build.
        .systemLibrary(name: "CCurl", providers: [.apt(["libcurl4-openssl-dev"])]),

        // What several test targets share: seeded generators, the scratch folder, child processes, free ports, and
        // the fail-closed fakes of the protocols the libraries declare (command runner, HTTP transport, clocks,
        // resolver, stack probe).
        .target(
            name: "TestSupport",
            dependencies: ["SBSCore", "Processes", "HTTPClient", "Host", "Deploy", "ACME", "Verify"],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "SBSCoreTests", dependencies: ["SBSCore", "Processes", "TestSupport"]),
        .testTarget(name: "YAMLTests", dependencies: ["YAML", "SBSCore", "Processes", "TestSupport", "Yams"]),
        .testTarget(name: "ProcessesTests", dependencies: ["Processes", "SBSCore", "TestSupport"]),
        .testTarget(name: "BackupsTests", dependencies: ["Backups", "Deploy", "Processes", "SBSCore", "TestSupport"]),
        .testTarget(name: "StepGraphTests", dependencies: ["StepGraph", "SBSCore", "TestSupport"]),
        .testTarget(name: "WizardTests", dependencies: ["TestSupport", "Wizard", "Host", "SBSCore"]),
        .testTarget(name: "HostTests", dependencies: ["TestSupport", "Host", "Processes", "SBSCore"]),
        .testTarget(
            name: "RenderTests",
            dependencies: [
                "TestSupport", "Render", "SBSCore", "Host", "Wizard", "Yams",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["Golden", "AlertRules"]
        ),
        .testTarget(
            name: "ACMETests",
            dependencies: [
                "ACME", "HTTPClient", "Processes", "SBSCore", "TestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .testTarget(name: "MigrationTests", dependencies: ["Migration", "Processes", "SBSCore", "TestSupport"]),
        .testTarget(name: "DeployTests", dependencies: ["Deploy", "Host", "Processes", "SBSCore", "TestSupport"]),
        .testTarget(
            name: "VerifyTests",
            dependencies: [
                "TestSupport", "Verify", "ACME", "Backups", "HTTPClient", "Processes", "Deploy", "SBSCore", "Render",
                "Host", .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .testTarget(
            name: "InstallerTests",
            dependencies: [
                "Installer", "ACME", "Deploy", "Host", "HTTPClient", "Processes", "SBSCore", "StepGraph", "TestSupport",
                "Verify", "Wizard", .product(name: "X509", package: "swift-certificates"),
            ]
        ),
        // Drive the built `sbs` binary (it is built because this target depends on it).
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["sbs", "SBSCore", "Processes", "Deploy", "Render", "StepGraph", "TestSupport", "Yams"]),
    ],
    swiftLanguageModes: [.v6]
)
