package org.fieldbook.app

import org.fieldbook.ffi.FieldbookException
import org.fieldbook.ffi.Finding
import org.fieldbook.ffi.Severity

/**
 * What to tell the officer. The core's `detail` is written for them (and never holds personal
 * data); the variants without one get a sentence here.
 */
fun FieldbookException.userMessage(): String = when (this) {
    is FieldbookException.Validation -> {
        val errors = findings.count { it.severity == Severity.ERROR }
        if (errors == 0) "Saved, with points to check (marked)." else "$errors thing(s) to put right first: see the marked fields."
    }
    is FieldbookException.NotPermitted -> detail
    is FieldbookException.NotFound -> "This record is no longer on this phone."
    is FieldbookException.Stale -> "The record changed while you were editing (a sync merged into it). It has been reloaded: check it and make your change again."
    is FieldbookException.Offline -> "No connection. Your work is kept on this phone and syncs when there is signal."
    is FieldbookException.ServerUnavailable -> "The force's server is not answering. Your work is kept on this phone; sync will try again."
    is FieldbookException.AuthenticationExpired -> detail
    is FieldbookException.DeviceRevoked -> detail
    is FieldbookException.NotEnrolled -> detail
    is FieldbookException.RefusedByServer -> detail
    is FieldbookException.Cancelled -> "Sync stopped. What it had done is kept."
    is FieldbookException.Storage -> detail
    is FieldbookException.Other -> "$detail [$code]"
}

/** Findings about [path] or anything inside it: `location` also takes `location.description`. */
fun List<Finding>.at(path: String): List<Finding> = filter { it.field.isWithin(path) }

/** Findings the screen shows next to none of [paths]: they go in the summary at the top. */
fun List<Finding>.outside(paths: Collection<String>): List<Finding> =
    filter { finding -> paths.none { finding.field.isWithin(it) } }

private fun String.isWithin(path: String) =
    this == path || startsWith("$path.") || startsWith("$path[")

/** Findings about [path] itself, not its parts: for a section heading above the parts' fields. */
fun List<Finding>.exactly(path: String): List<Finding> = filter { it.field == path }
