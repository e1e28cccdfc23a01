// swift-tools-version: 6.1
import PackageDescription

/// Shared settings: Swift 6 language mode with strict concurrency everywhere.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "fleetd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "fleetd", targets: ["fleetd"]),
        .executable(name: "fleetd-bench", targets: ["Benchmarks"]),
        .library(name: "Fleet", targets: ["Fleet"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "4.1.0"..<"6.0.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk.git", from: "0.12.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // FileDescriptor, for the MCP SDK's stdio transport to a tool server's pipes.
        .package(url: "https://github.com/apple/swift-system.git", from: "1.4.0"),
        // Starts stdio tool servers (and, in tests, fleetd): Foundation's Process reads past a heap
        // block on Linux once ~1,365 descriptors are open (ServerProcess.swift says more).
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        // Already in the graph under AsyncHTTPClient and jwt-kit. NIOSSL: extra CA certificates for
        // provider connections (FLEETD_EXTRA_CA_CERTS). NIOHTTP2 and X509: the fake provider's
        // HTTPS + HTTP/2 mode (tests and benchmarks only), with a certificate made at run time
        // (SwiftASN1 for its IP address).
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.0.0"),
    ],
    targets: [
        // The module layout: each folder's name says what it holds, and `Tests/FleetdTests/
        // ModuleBoundaryTests.swift` fails when a file imports a module its folder may not.
        // Dependencies point one way: FleetSupport ← Providers ← Streaming; FleetSupport ← Store ←
        // Routing; Agents composes both; Fleet sits on Agents; fleetd on everything.
        .target(
            name: "FleetSupport",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Providers",
            dependencies: [
                "FleetSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Streaming",
            dependencies: [
                "FleetSupport",
                "Providers",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Store",
            dependencies: [
                "FleetSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Routing",
            dependencies: [
                "FleetSupport",
                "Store",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Agents",
            dependencies: [
                "FleetSupport", "Providers", "Streaming", "Store", "Routing",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // MCP clients for agents' tool servers (stdio processes, Streamable HTTP).
        .target(
            name: "ToolServers",
            dependencies: [
                "FleetSupport", "Providers", "Streaming",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Fleet",
            dependencies: [
                "FleetSupport", "Providers", "Streaming", "Store", "Routing", "Agents", "ToolServers",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fleetd",
            dependencies: [
                "FleetSupport", "Providers", "Streaming", "Store", "Routing", "Agents", "Fleet",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                // Its server's child-channel protocol: each connection's task on its own loop (ConnectionLoopChannel).
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // The operator dashboard's static pages (served at `/` and `/ui/`; see DashboardRoutes).
            resources: [.copy("Dashboard/Site")],
            swiftSettings: swiftSettings
        ),
        // `fleetd-bench SUITE`: the benchmarks, never linked into `fleetd`. The serve suite runs
        // the `fleetd` binary built beside it.
        .executableTarget(
            name: "Benchmarks",
            dependencies: [
                "FleetSupport", "Providers", "Streaming", "Store", "Routing", "Agents", "Fleet", "FakeProvider",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Test support: the one fake upstream, a loopback server that replays recorded provider
        // transcripts (Tests/Fixtures/providers) byte for byte, injects faults, and serves the
        // benchmarks' canned answers. Never linked into fleetd.
        .target(
            name: "FakeProvider",
            dependencies: [
                "FleetSupport", "Providers",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tests/Support/FakeProvider",
            swiftSettings: swiftSettings
        ),
        // Test support: writes ledger entries until SIGKILLed, for the store's crash test.
        .executableTarget(
            name: "StoreCrashWriter",
            dependencies: ["Store", "FleetSupport"],
            path: "Tests/Support/StoreCrashWriter",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "FleetSupportTests", dependencies: ["FleetSupport", .product(name: "SystemPackage", package: "swift-system")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "ProvidersTests", dependencies: ["Providers", "FleetSupport", "FakeProvider"], swiftSettings: swiftSettings),
        .testTarget(name: "StreamingTests", dependencies: ["Streaming", "Providers", "FleetSupport", "FakeProvider"], swiftSettings: swiftSettings),
        .testTarget(
            name: "StoreTests",
            dependencies: ["Store", "FleetSupport", "FakeProvider", .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "PostgresNIO", package: "postgres-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "RoutingTests", dependencies: ["Routing", "Store", "FleetSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "AgentsTests",
            dependencies: ["Agents", "Routing", "Store", "Streaming", "Providers", "FleetSupport", "FakeProvider"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FleetTests",
            dependencies: ["Fleet", "Agents", "Routing", "Store", "Streaming", "Providers", "FleetSupport", "FakeProvider", "ToolServers"],
            swiftSettings: swiftSettings
        ),
        // The HTTP API in-process (HummingbirdTesting) and end to end: starts the real `fleetd`
        // binary (built alongside the tests) and talks HTTP to it.
        .testTarget(
            name: "FleetdTests",
            dependencies: [
                "fleetd", "Fleet", "Agents", "Routing", "Store", "Streaming", "Providers", "FleetSupport", "FakeProvider",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
