// swift-tools-version: 6.1
// Scratch package for tuning the complexity analyzer in seconds instead of minutes.
// `ComplexityCore` is a symlink to ../../Sources/Routing/Complexity: the lab compiles the real files.
import PackageDescription

let package = Package(
    name: "complexity-lab",
    targets: [
        .target(name: "ComplexityCore", path: "Sources/ComplexityCore"),
        .executableTarget(name: "lab", dependencies: ["ComplexityCore"], path: "Sources/lab"),
    ]
)
