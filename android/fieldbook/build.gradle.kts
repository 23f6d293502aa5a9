// The generated bindings (org.fieldbook.ffi) and the thin Kotlin layer over them
// (org.fieldbook.core): plain Kotlin/JVM, no Android. Its tests are a `main` harness run on the
// host JVM against the host build of libfieldbook_ffi and a real fieldbook-server
// (scripts/test-bindings, via run-jvm-tests); Gradle only compiles them here.
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    // Both appear in the generated API (JNA Structure/Pointer types, suspend functions).
    api(libs.jna)
    api(libs.kotlinx.coroutines.core)
    testImplementation(kotlin("test"))
}
