package org.fieldbook.app

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import org.fieldbook.core.FieldbookRepository
import org.fieldbook.ffi.ApprovalState
import org.fieldbook.ffi.Record
import org.fieldbook.ffi.RecordFilter
import org.fieldbook.ffi.RecordSummary
import org.fieldbook.ffi.ReferenceLists
import org.fieldbook.ffi.SyncStatus
import org.fieldbook.ffi.VersionedRecord

// Device calls the screens need that FieldbookRepository does not wrap, on the IO dispatcher
// like the rest: every FieldbookDevice call except sync and enrol blocks.

suspend fun FieldbookRepository.getVersioned(id: String): VersionedRecord = io { device.getVersioned(id) }

suspend fun FieldbookRepository.saveVersioned(record: Record, version: String) =
    io { device.saveVersioned(record, version) }

/** `classification=8N` / `outcome=16`: the core fills in label and category from reference data. */
suspend fun FieldbookRepository.setFields(id: String, vararg assignments: String): Record =
    io { device.setFields(id, assignments.toList()) }

suspend fun FieldbookRepository.records(filter: RecordFilter): List<RecordSummary> = io { device.list(filter) }

suspend fun FieldbookRepository.referenceLists(): ReferenceLists = io { device.referenceLists() }

suspend fun FieldbookRepository.syncStatus(): SyncStatus = io { device.syncStatus() }

suspend fun FieldbookRepository.approvalState(id: String): ApprovalState = io { device.approvalState(id) }

suspend fun FieldbookRepository.reopen(id: String, reason: String): Record = io { device.reopen(id, reason) }

private suspend fun <T> io(call: () -> T): T = withContext(Dispatchers.IO) { call() }
