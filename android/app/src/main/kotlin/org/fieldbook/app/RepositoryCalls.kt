package org.fieldbook.app

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import org.fieldbook.core.FieldbookRepository
import org.fieldbook.ffi.RecordFilter
import org.fieldbook.ffi.RecordSummary

// Device calls the screens need that FieldbookRepository does not wrap, on the IO dispatcher
// like the rest: every FieldbookDevice call except sync and enrol blocks.

/** Any filter, not only the officer's own records (`myRecords`): e.g. every assessment on a crime. */
suspend fun FieldbookRepository.records(filter: RecordFilter): List<RecordSummary> =
    withContext(Dispatchers.IO) { device.list(filter) }
