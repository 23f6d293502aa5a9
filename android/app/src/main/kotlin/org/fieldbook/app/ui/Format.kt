package org.fieldbook.app.ui

import java.time.Duration
import java.time.Instant
import java.time.ZoneId
import java.time.format.DateTimeFormatter
import java.time.format.FormatStyle
import org.fieldbook.ffi.RecordKind
import org.fieldbook.ffi.Status

private val dateTime = DateTimeFormatter.ofLocalizedDateTime(FormatStyle.MEDIUM, FormatStyle.SHORT)
    .withZone(ZoneId.systemDefault())

fun Instant.display(): String = dateTime.format(this)

fun Duration.display(): String = when {
    toDays() >= 1 -> "${toDays()} d ${toHours() % 24} h"
    toHours() >= 1 -> "${toHours()} h ${toMinutes() % 60} min"
    else -> "${toMinutes()} min"
}

fun RecordKind.label(): String = when (this) {
    RecordKind.CRIME_REPORT -> "Crime report"
    RecordKind.VICTIM_NEEDS_ASSESSMENT -> "Victim needs assessment"
    RecordKind.STOP_SEARCH -> "Stop and search"
    RecordKind.NEIGHBOURHOOD_ISSUE -> "Neighbourhood issue"
    RecordKind.PERSON -> "Person"
}

fun Status.label(): String = when (this) {
    Status.DRAFT -> "Draft"
    Status.SUBMITTED -> "Submitted"
    Status.RETURNED -> "Returned"
    Status.APPROVED -> "Approved"
}

/** The navigation route of the screen that edits a record of [kind]. */
fun editorRoute(kind: RecordKind, id: String): String = when (kind) {
    RecordKind.CRIME_REPORT -> "crime/$id"
    RecordKind.VICTIM_NEEDS_ASSESSMENT -> "vna/$id"
    RecordKind.STOP_SEARCH -> "stop-search/$id"
    RecordKind.NEIGHBOURHOOD_ISSUE -> "issue/$id"
    RecordKind.PERSON -> "person/$id"
}
