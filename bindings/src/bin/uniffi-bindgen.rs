//! The workspace's `uniffi-bindgen`: generates the Kotlin, Swift and Python bindings from the
//! built library (`scripts/bindgen` runs it).

fn main() {
    uniffi::uniffi_bindgen_main()
}
