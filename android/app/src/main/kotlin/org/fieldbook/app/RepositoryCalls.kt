package org.fieldbook.app

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import org.fieldbook.core.FieldbookRepository
import org.fieldbook.ffi.QuarantineItem
import org.fieldbook.ffi.Record
import org.fieldbook.ffi.RecordFilter
import org.fieldbook.ffi.RecordSummary

// Device calls the screens need that FieldbookRepository does not wrap, on the IO dispatcher
// like the rest: every FieldbookDevice call except sync and enrol blocks.

/** Any filter, not only the officer's own records (`myRecords`): e.g. every assessment on a crime. */
suspend fun FieldbookRepository.records(filter: RecordFilter): List<RecordSummary> =
    withContext(Dispatchers.IO) { device.list(filter) }

/**
 * What the server refused and this phone kept, oldest first. Each item stays until the officer
 * dismisses it: the app never dismisses one itself.
 */
suspend fun FieldbookRepository.quarantine(): List<QuarantineItem> =
    withContext(Dispatchers.IO) { device.quarantine() }

/** The whole refused record kept as item [quarantineId], to read and copy from (never saved). */
suspend fun FieldbookRepository.quarantinedRecord(recordId: String, quarantineId: ULong): Record =
    withContext(Dispatchers.IO) { device.quarantinedRecord(recordId, quarantineId) }

/** Deletes a kept refused state for good: only after the officer confirms they copied what they need. */
suspend fun FieldbookRepository.dismissQuarantine(quarantineId: ULong) =
    withContext(Dispatchers.IO) { device.dismissQuarantine(quarantineId) }
