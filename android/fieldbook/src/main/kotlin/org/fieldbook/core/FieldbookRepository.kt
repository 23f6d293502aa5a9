package org.fieldbook.core

import java.time.Duration
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.withContext
import org.fieldbook.ffi.ApprovalState
import org.fieldbook.ffi.FieldbookDevice
import org.fieldbook.ffi.FieldbookException
import org.fieldbook.ffi.Finding
import org.fieldbook.ffi.QueueItem
import org.fieldbook.ffi.Record
import org.fieldbook.ffi.RecordFilter
import org.fieldbook.ffi.RecordKind
import org.fieldbook.ffi.RecordSummary
import org.fieldbook.ffi.ReferenceLists
import org.fieldbook.ffi.ReturnedItem
import org.fieldbook.ffi.SyncCancel
import org.fieldbook.ffi.SyncObserver
import org.fieldbook.ffi.SyncPhase
import org.fieldbook.ffi.SyncReport
import org.fieldbook.ffi.SyncStatus
import org.fieldbook.ffi.VersionedRecord

/** What the sync indicator shows. */
sealed interface SyncState {
    /** No sync running; [last] is the last finished one, if any. */
    data class Idle(val last: SyncReport?) : SyncState

    /** A sync is running. */
    data class Running(
        val phase: SyncPhase,
        val outboxRecords: Long = 0,
        val pushedRecords: Long = 0,
        val pulledRecords: Long = 0,
        val pages: Long = 0,
    ) : SyncState

    /** The last sync failed; [error] says whether to wait (offline), re-enrol or ask a supervisor. */
    data class Failed(val error: FieldbookException) : SyncState
}

/**
 * The one object the app's screens use: the device's records as suspend functions on an IO
 * dispatcher, and the sync state as a [StateFlow]. Holds no logic of its own; every rule,
 * permission and merge decision is the core's.
 */
class FieldbookRepository(
    val device: FieldbookDevice,
    private val io: CoroutineDispatcher = Dispatchers.IO,
) {
    private val state = MutableStateFlow<SyncState>(SyncState.Idle(null))
    @Volatile private var cancel: SyncCancel? = null

    /** The sync indicator's state. */
    val syncState: StateFlow<SyncState> = state.asStateFlow()

    suspend fun create(kind: RecordKind): Record = withContext(io) { device.createRecord(kind) }
    suspend fun get(id: String): Record = withContext(io) { device.get(id) }
    suspend fun save(record: Record) = withContext(io) { device.save(record) }
    suspend fun check(id: String): List<Finding> = withContext(io) { device.check(id) }
    suspend fun submit(id: String): Record = withContext(io) { device.submit(id) }
    suspend fun myRecords(kind: RecordKind? = null): List<RecordSummary> =
        withContext(io) { device.list(RecordFilter(kind = kind, author = device.user().officer)) }
    suspend fun myDrafts(): List<RecordSummary> = withContext(io) { device.myDrafts() }
    suspend fun returnedToMe(): List<ReturnedItem> = withContext(io) { device.returnedToMe() }
    suspend fun reviewQueue(): List<QueueItem> = withContext(io) { device.reviewQueue() }
    suspend fun approve(id: String): Record = withContext(io) { device.approve(id) }
    suspend fun returnToAuthor(id: String, reason: String): Record =
        withContext(io) { device.returnToAuthor(id, reason) }
    suspend fun receipt(id: String): String = withContext(io) { device.receipt(id) }
    suspend fun reopen(id: String, reason: String): Record = withContext(io) { device.reopen(id, reason) }
    suspend fun setFields(id: String, assignments: List<String>): Record =
        withContext(io) { device.setFields(id, assignments) }
    suspend fun getVersioned(id: String): VersionedRecord = withContext(io) { device.getVersioned(id) }
    suspend fun saveVersioned(record: Record, version: String) =
        withContext(io) { device.saveVersioned(record, version) }
    suspend fun approvalState(id: String): ApprovalState = withContext(io) { device.approvalState(id) }
    suspend fun syncStatus(): SyncStatus = withContext(io) { device.syncStatus() }
    fun referenceLists(): ReferenceLists = device.referenceLists()

    /**
     * Runs one sync and publishes its progress on [syncState]. Returns the report, or null when
     * it failed or was cancelled (the failure is in [syncState]). Work is never lost either way.
     */
    suspend fun sync(): SyncReport? {
        val handle = SyncCancel()
        cancel = handle
        state.value = SyncState.Running(SyncPhase.PUSHING)
        return try {
            // The Rust future is polled on this dispatcher, and each poll can do store work.
            val report = withContext(io) { device.sync(Observer(), handle) }
            state.value = SyncState.Idle(report)
            report
        } catch (e: FieldbookException) {
            state.value = if (e is FieldbookException.Cancelled) SyncState.Idle(null) else SyncState.Failed(e)
            null
        } finally {
            // An overlapping sync may have installed its own handle meanwhile: leave that one.
            if (cancel === handle) cancel = null
            // Cancelling the calling coroutine ends the sync too (uniffi drops the Rust future);
            // the indicator must not stay on "running".
            if (state.value is SyncState.Running) state.value = SyncState.Idle(null)
        }
    }

    /** Stops a running sync; what it applied is kept. */
    fun cancelSync() {
        cancel?.cancel()
    }

    private inner class Observer : SyncObserver {
        private fun update(change: (SyncState.Running) -> SyncState.Running) {
            val now = state.value
            if (now is SyncState.Running) state.value = change(now)
        }

        override fun onPhase(phase: SyncPhase) = update { it.copy(phase = phase) }
        override fun onOutbox(records: ULong, requests: ULong) =
            update { it.copy(outboxRecords = records.toLong()) }
        override fun onPushed(records: ULong, bytes: ULong) =
            update { it.copy(pushedRecords = it.pushedRecords + records.toLong()) }
        override fun onPulled(records: ULong, bytes: ULong, pages: ULong) =
            update { it.copy(pulledRecords = it.pulledRecords + records.toLong(), pages = pages.toLong()) }
    }

    companion object {
        /** Background sync retries little: WorkManager / BGTaskScheduler schedule the next try. */
        fun backgroundRetry(device: FieldbookDevice) =
            device.setSyncRetry(3u, Duration.ofMillis(500), Duration.ofSeconds(5))
    }
}
