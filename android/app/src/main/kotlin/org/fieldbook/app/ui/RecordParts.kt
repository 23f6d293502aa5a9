package org.fieldbook.app.ui

import androidx.compose.material3.AssistChip
import androidx.compose.material3.AssistChipDefaults
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import org.fieldbook.app.exactly
import org.fieldbook.ffi.Finding
import org.fieldbook.ffi.Location
import org.fieldbook.ffi.Status
import org.fieldbook.ffi.Thrive

// Pieces several record screens share: a place description, THRIVE, the status chip.

/** The location with its free-text description replaced (GPS fields kept). */
fun Location?.withDescription(text: String): Location =
    (this ?: Location(lat = null, lon = null, accuracyM = null, description = null, street = null, ward = null))
        .copy(description = text.ifEmpty { null })

private val noThrive = Thrive(
    threat = "", harm = "", risk = "", investigation = "", vulnerability = "", engagement = "", adviceGiven = "",
)

@Composable
fun ThriveFields(thrive: Thrive?, onChange: (Thrive) -> Unit, findings: List<Finding>, enabled: Boolean) {
    val t = thrive ?: noThrive
    findings.exactly("thrive").forEach { FindingLine(it) }
    RecordTextField("Threat", t.threat, { onChange(t.copy(threat = it)) }, findings, "thrive.threat", enabled, minLines = 2)
    RecordTextField("Harm", t.harm, { onChange(t.copy(harm = it)) }, findings, "thrive.harm", enabled, minLines = 2)
    RecordTextField("Risk", t.risk, { onChange(t.copy(risk = it)) }, findings, "thrive.risk", enabled, minLines = 2)
    RecordTextField("Investigation", t.investigation, { onChange(t.copy(investigation = it)) }, findings, "thrive.investigation", enabled, minLines = 2)
    RecordTextField("Vulnerability", t.vulnerability, { onChange(t.copy(vulnerability = it)) }, findings, "thrive.vulnerability", enabled, minLines = 2)
    RecordTextField("Engagement", t.engagement, { onChange(t.copy(engagement = it)) }, findings, "thrive.engagement", enabled, minLines = 2)
    RecordTextField("Advice given", t.adviceGiven, { onChange(t.copy(adviceGiven = it)) }, findings, "thrive.advice_given", enabled, minLines = 2)
}

@Composable
fun StatusChip(status: Status) {
    val colors = MaterialTheme.colorScheme
    val container = when (status) {
        Status.DRAFT -> colors.surfaceVariant
        Status.SUBMITTED -> colors.secondaryContainer
        Status.RETURNED -> colors.errorContainer
        Status.APPROVED -> colors.primaryContainer
    }
    AssistChip(
        onClick = {},
        label = { Text(status.label()) },
        colors = AssistChipDefaults.assistChipColors(containerColor = container),
    )
}
