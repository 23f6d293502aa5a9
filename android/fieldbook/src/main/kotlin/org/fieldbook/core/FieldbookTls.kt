package org.fieldbook.core

/**
 * Lets the core's HTTP client verify the sync server's certificate with Android's trust store
 * (rustls-platform-verifier reaches it through JNI). Call once, from `Application.onCreate`,
 * before the first enrol or sync; pass the application `Context` (typed `Any` so this module
 * stays plain JVM). Not needed, and not available, off Android.
 */
object FieldbookTls {
    init {
        System.loadLibrary("fieldbook_ffi")
    }

    @JvmStatic
    external fun initialise(context: Any)
}
