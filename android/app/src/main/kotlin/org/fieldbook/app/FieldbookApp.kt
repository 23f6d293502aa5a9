package org.fieldbook.app

import android.app.Application
import android.os.Build
import java.io.File
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import org.fieldbook.app.sync.SyncWork
import org.fieldbook.core.AesGcmKeyWrapper
import org.fieldbook.core.FieldbookRepository
import org.fieldbook.core.FieldbookTls
import org.fieldbook.core.FileWrappedKeyStorage
import org.fieldbook.core.WrappedDatabaseKeyProvider
import org.fieldbook.ffi.FieldbookDevice
import org.fieldbook.ffi.FieldbookException
import org.fieldbook.ffi.Role
import org.fieldbook.ffi.UserInfo

/** Where the app is with its encrypted store. */
sealed interface StoreState {
    data object Opening : StoreState

    /** First run on this phone: no store yet. */
    data object NeedsSetup : StoreState

    /** The store is open; [enrolled] is false until the device has enrolled with the server. */
    data class Ready(
        val repository: FieldbookRepository,
        val user: UserInfo,
        val enrolled: Boolean,
    ) : StoreState

    /** The store exists but cannot be opened (keystore cleared, corrupt file, newer schema). */
    data class Unreadable(val error: FieldbookException) : StoreState
}

class FieldbookApp : Application() {
    /** Work that must outlive a screen (opening the store, moving an unreadable one aside). */
    val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    private val state = MutableStateFlow<StoreState>(StoreState.Opening)
    val store: StateFlow<StoreState> = state.asStateFlow()

    // noBackupFilesDir: excluded from cloud backup and device-to-device transfer, like the key.
    private val storeFile get() = File(noBackupFilesDir, "fieldbook.fbk")
    private val wrappedKeyFile get() = File(noBackupFilesDir, "fieldbook-db.key")
    private val connectivity by lazy { AndroidConnectivity(this) }

    override fun onCreate() {
        super.onCreate()
        // TLS: the core's HTTP client verifies the server with rustls-platform-verifier, which on
        // Android asks the platform trust manager through JNI; it needs this Context once per
        // process, before the first enrol or sync. (Its Kotlin half is the
        // `rustls:rustls-platform-verifier` dependency.)
        FieldbookTls.initialise(this)
        scope.launch(Dispatchers.IO) { state.value = open() }
    }

    /** The repository once the store is open, or null when there is none to sync. */
    suspend fun repository(): FieldbookRepository? =
        (store.first { it != StoreState.Opening } as? StoreState.Ready)?.repository

    /** First run: creates the store for this officer and enrols the device with the server. */
    suspend fun setUp(officer: String, role: Role, server: String, code: String) = withContext(Dispatchers.IO) {
        val device = FieldbookDevice.setup(storeFile.path, officer, role, keys(), connectivity = connectivity)
        state.value = ready(device)
        enrol(server, code)
    }

    /** Enrols an existing store (after a failed first enrolment, or an expired sign-in). */
    suspend fun enrol(server: String, code: String) = withContext(Dispatchers.IO) {
        val ready = state.value as? StoreState.Ready ?: return@withContext
        ready.repository.device.enrol(server, code, "${Build.MANUFACTURER} ${Build.MODEL}")
        state.value = ready.copy(enrolled = true)
        SyncWork.schedulePeriodic(this@FieldbookApp)
        SyncWork.syncSoon(this@FieldbookApp)
    }

    /** After the server stops accepting this device's sign-in: back to enrolment; the store and its work stay. */
    fun requireEnrolment() {
        (state.value as? StoreState.Ready)?.let { state.value = it.copy(enrolled = false) }
    }

    /**
     * Keeps an unreadable store (and its wrapped key) byte for byte in a dated folder, never
     * deleting it (docs/adr/0003), and starts a fresh store that pulls from the server.
     */
    fun keepUnreadableStoreAndStartAgain() {
        scope.launch(Dispatchers.IO) {
            val aside = File(noBackupFilesDir, "unreadable-${System.currentTimeMillis()}").apply { mkdirs() }
            listOf(storeFile, File("${storeFile.path}-wal"), File("${storeFile.path}-shm"), wrappedKeyFile)
                .filter { it.exists() }
                .forEach { it.renameTo(File(aside, it.name)) }
            state.value = StoreState.NeedsSetup
        }
    }

    private fun keys() = WrappedDatabaseKeyProvider(
        AesGcmKeyWrapper(AndroidKeystoreKey.getOrCreate()),
        FileWrappedKeyStorage(wrappedKeyFile),
    )

    private fun open(): StoreState {
        if (!storeFile.exists()) return StoreState.NeedsSetup
        val keys = try {
            keys()
        } catch (e: Exception) {
            // KeyStore reports a missing or broken key through several exception types.
            return StoreState.Unreadable(
                FieldbookException.Storage("key-unavailable", "the phone's keystore did not give the key for this store"),
            )
        }
        return try {
            ready(FieldbookDevice.open(storeFile.path, keys, connectivity = connectivity))
        } catch (e: FieldbookException) {
            StoreState.Unreadable(e)
        }
    }

    private fun ready(device: FieldbookDevice): StoreState.Ready {
        FieldbookRepository.backgroundRetry(device)
        val enrolled = device.syncStatus().server != null
        if (enrolled) SyncWork.schedulePeriodic(this)
        return StoreState.Ready(FieldbookRepository(device), device.user(), enrolled)
    }
}
