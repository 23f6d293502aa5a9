#!/usr/bin/env bash
# Builds ios/FieldbookKit/FieldbookFFI.xcframework: libfieldbook_ffi.a (crate fieldbook-ffi) for
# iPhone (aarch64-apple-ios) and for the simulator (aarch64-apple-ios-sim + x86_64-apple-ios, one
# fat library), each with the generated C header and module map (module FieldbookFFIC) from
# ios/FieldbookKit/FFIHeaders. Run on a Mac with Xcode and rustup, from anywhere:
#   ios/scripts/build-xcframework.sh
# Regenerate the bindings first (scripts/bindgen) if the Rust API changed: the header, the
# module map and FieldbookFFI.swift must come from the same source as the library.
set -euo pipefail
cd "$(dirname "$0")/../.."

device=aarch64-apple-ios
simulators=(aarch64-apple-ios-sim x86_64-apple-ios)
lib=libfieldbook_ffi.a
target_dir="${CARGO_TARGET_DIR:-target}"
headers=ios/FieldbookKit/FFIHeaders
out=ios/FieldbookKit/FieldbookFFI.xcframework

# C code under the crate (SQLCipher, OpenSSL, aws-lc) builds for the app's minimum iOS.
export IPHONEOS_DEPLOYMENT_TARGET=16.0

rustup target add "$device" "${simulators[@]}"
cargo build --locked --release -p fieldbook-ffi --lib \
    --target "$device" --target "${simulators[0]}" --target "${simulators[1]}"

work="$target_dir/xcframework"
rm -rf "$work"
mkdir -p "$work/headers" "$work/ios-simulator"
cp "$headers/FieldbookFFIC.h" "$headers/module.modulemap" "$work/headers/"

# An XCFramework holds one library per platform, so the two simulator architectures are one.
lipo -create \
    "$target_dir/${simulators[0]}/release/$lib" \
    "$target_dir/${simulators[1]}/release/$lib" \
    -output "$work/ios-simulator/$lib"

rm -rf "$out"
xcodebuild -create-xcframework \
    -library "$target_dir/$device/release/$lib" -headers "$work/headers" \
    -library "$work/ios-simulator/$lib" -headers "$work/headers" \
    -output "$out"
echo "build-xcframework: $out"
