// swift-tools-version:5.9
// FieldbookKit: the Swift layer over Fieldbook's one native library.
//   FieldbookFFIC  the static library and its C header, as an XCFramework built by
//                  ../scripts/build-xcframework.sh (not committed)
//   FieldbookFFI   the Swift bindings uniffi generates (scripts/bindgen; do not edit)
//   FieldbookKit   the thin platform layer the app uses: store, keychain key, connectivity
import PackageDescription

let package = Package(
    name: "FieldbookKit",
    platforms: [.iOS(.v16)],
    products: [
        .library(name: "FieldbookKit", targets: ["FieldbookKit"]),
    ],
    targets: [
        .binaryTarget(name: "FieldbookFFIC", path: "FieldbookFFI.xcframework"),
        .target(
            name: "FieldbookFFI",
            dependencies: ["FieldbookFFIC"],
            path: "Sources/FieldbookFFI",
            // The Rust static library verifies TLS with the platform (rustls-platform-verifier)
            // and cannot carry its framework dependencies itself.
            linkerSettings: [.linkedFramework("Security"), .linkedFramework("CoreFoundation")]
        ),
        .target(
            name: "FieldbookKit",
            dependencies: ["FieldbookFFI"],
            path: "Sources/FieldbookKit"
        ),
    ]
)
