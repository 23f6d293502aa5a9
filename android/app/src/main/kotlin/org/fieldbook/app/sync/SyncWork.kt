package org.fieldbook.app.sync

import android.content.Context
import androidx.work.BackoffPolicy
import androidx.work.Constraints
import androidx.work.CoroutineWorker
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.ExistingWorkPolicy
import androidx.work.NetworkType
import androidx.work.OneTimeWorkRequestBuilder
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import androidx.work.WorkerParameters
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import org.fieldbook.app.FieldbookApp
import org.fieldbook.core.FieldbookRepository
import org.fieldbook.core.SyncState
import org.fieldbook.ffi.FieldbookException

/** Every sync the app runs goes through WorkManager, so it survives the screen that asked. */
object SyncWork {
    private const val PERIODIC = "fieldbook-sync-periodic"
    private const val SOON = "fieldbook-sync-soon"

    private val connected = Constraints.Builder()
        .setRequiredNetworkType(NetworkType.CONNECTED)
        .build()
    private val oneAtATime = Mutex()

    /** Every 15 minutes (WorkManager's minimum) while there is a network. */
    fun schedulePeriodic(context: Context) {
        val request = PeriodicWorkRequestBuilder<SyncWorker>(15, TimeUnit.MINUTES)
            .setConstraints(connected)
            .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, 1, TimeUnit.MINUTES)
            .build()
        WorkManager.getInstance(context)
            .enqueueUniquePeriodicWork(PERIODIC, ExistingPeriodicWorkPolicy.KEEP, request)
    }

    /** A one-off sync as soon as there is a network: after a submit, approve or return. */
    fun syncSoon(context: Context) {
        val request = OneTimeWorkRequestBuilder<SyncWorker>()
            .setConstraints(connected)
            .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, 30, TimeUnit.SECONDS)
            .build()
        // Appended behind a running sync, so a record submitted mid-sync is pushed by the next.
        WorkManager.getInstance(context)
            .enqueueUniqueWork(SOON, ExistingWorkPolicy.APPEND_OR_REPLACE, request)
    }

    /**
     * Runs one sync and returns where it ended. One at a time in this process, so the state read
     * afterwards is this sync's (the periodic and the one-off work can start together).
     *
     * When WorkManager stops the worker (network lost, time up) it cancels this coroutine. That
     * ends the sync at its next await point; what it applied is kept and the repository puts the
     * sync indicator back to idle.
     */
    suspend fun run(repository: FieldbookRepository): SyncState = oneAtATime.withLock {
        repository.sync()
        repository.syncState.value
    }
}

class SyncWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        val repository = (applicationContext as FieldbookApp).repository() ?: return Result.success()
        val ended = SyncWork.run(repository)
        if (ended !is SyncState.Failed) return Result.success()
        return when (ended.error) {
            // Worth another try with backoff; the work is safe on the phone meanwhile.
            is FieldbookException.Offline, is FieldbookException.ServerUnavailable -> Result.retry()
            // Re-enrolment, a revoked device or a refusal need a person; the store records the
            // error code and the app shows it (syncStatus().lastError).
            else -> Result.failure()
        }
    }
}
