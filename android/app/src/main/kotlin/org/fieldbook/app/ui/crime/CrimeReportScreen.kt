package org.fieldbook.app.ui.crime

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.Card
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import java.time.Instant
import org.fieldbook.app.at
import org.fieldbook.app.exactly
import org.fieldbook.app.ui.ChoiceField
import org.fieldbook.app.ui.EditorScaffold
import org.fieldbook.app.ui.FindingLine
import org.fieldbook.app.ui.RecordTextField
import org.fieldbook.app.ui.Section
import org.fieldbook.app.ui.SwitchField
import org.fieldbook.app.ui.ThriveFields
import org.fieldbook.app.ui.TimeField
import org.fieldbook.app.ui.editorRoute
import org.fieldbook.app.ui.withDescription
import org.fieldbook.ffi.AssessmentExemption
import org.fieldbook.ffi.CrimeReport
import org.fieldbook.ffi.Finding
import org.fieldbook.ffi.NoAssessmentReason
import org.fieldbook.ffi.RecordKind
import org.fieldbook.ffi.RecordingDecision
import org.fieldbook.ffi.RecordingDecisionKind
import org.fieldbook.ffi.VictimDecision

private val shownPaths = listOf(
    "reported_at", "occurred_from", "occurred_to", "location", "classification", "recording_decision",
    "narrative", "flags", "thrive", "victims", "assessment_exemptions", "outcome", "victim_decision",
)

@Composable
fun CrimeReportScreen(vm: CrimeReportViewModel, onBack: () -> Unit, onNavigate: (String) -> Unit) {
    val state by vm.state.collectAsStateWithLifecycle()
    val refs by vm.referenceLists.collectAsStateWithLifecycle()
    val assessments by vm.assessments.collectAsStateWithLifecycle()
    LaunchedEffect(Unit) { vm.refresh() }

    EditorScaffold("Crime report", state, shownPaths, vm::save, vm::submit, onBack) {
        val crime = state.value ?: return@EditorScaffold
        val f = state.findings
        val on = !state.busy
        fun edit(change: (CrimeReport) -> CrimeReport) = vm.edit(change)

        Section("Report") {
            TimeField("Report received", crime.reportedAt, { t -> edit { it.copy(reportedAt = t) } }, f, "reported_at", on)
            TimeField("Occurred from", crime.occurredFrom, { t -> edit { it.copy(occurredFrom = t) } }, f, "occurred_from", on)
            TimeField("Occurred to", crime.occurredTo, { t -> edit { it.copy(occurredTo = t) } }, f, "occurred_to", on)
            RecordTextField("Place", crime.location?.description, { d -> edit { it.copy(location = it.location.withDescription(d)) } }, f, "location", on)
        }

        Section("Classification and recording decision") {
            ChoiceField(
                "Offence",
                refs?.offences.orEmpty().map { it.code to "${it.code} ${it.label}" },
                crime.classification?.offence?.code,
                vm::classify,
                f,
                "classification",
                on,
            )
            crime.classification?.let { Text("police.uk category: ${it.category}", style = MaterialTheme.typography.bodySmall) }
            ChoiceField(
                "Recording decision",
                listOf(RecordingDecisionKind.CRIMED.name to "Crimed", RecordingDecisionKind.NOT_CRIMED.name to "Not crimed"),
                crime.recordingDecision?.decision?.name,
                { kind ->
                    edit {
                        it.copy(recordingDecision = RecordingDecision(RecordingDecisionKind.valueOf(kind), Instant.now(), it.recordingDecision?.rationale))
                    }
                },
                f.filterNot { it.field == "recording_decision.rationale" },
                "recording_decision",
                on,
            )
            crime.recordingDecision?.let { decision ->
                RecordTextField(
                    "Rationale",
                    decision.rationale,
                    { r -> edit { it.copy(recordingDecision = decision.copy(rationale = r.ifEmpty { null })) } },
                    f,
                    "recording_decision.rationale",
                    on,
                    minLines = 3,
                )
            }
        }

        Section("Account") {
            RecordTextField("Narrative", crime.narrative, { n -> edit { it.copy(narrative = n) } }, f, "narrative", on, minLines = 6)
        }

        Section("Flags") {
            val flags = crime.flags
            SwitchField("Domestic abuse", flags.domesticAbuse, { v -> edit { it.copy(flags = flags.copy(domesticAbuse = v)) } }, on)
            SwitchField("Hate crime", flags.hateCrime, { v -> edit { it.copy(flags = flags.copy(hateCrime = v)) } }, on)
            SwitchField("Repeat victim", flags.repeatVictim, { v -> edit { it.copy(flags = flags.copy(repeatVictim = v)) } }, on)
            SwitchField("Vulnerable victim", flags.vulnerableVictim, { v -> edit { it.copy(flags = flags.copy(vulnerableVictim = v)) } }, on)
        }

        Section("THRIVE risk assessment") {
            ThriveFields(crime.thrive, { t -> edit { it.copy(thrive = t) } }, f, on)
        }

        Section("Victims") {
            f.exactly("victims").forEach { FindingLine(it) }
            crime.victims.forEachIndexed { index, victimId ->
                VictimCard(
                    index = index,
                    victimId = victimId,
                    crime = crime,
                    hasAssessment = victimId in assessments,
                    findings = f,
                    enabled = on,
                    onDetails = { onNavigate(editorRoute(RecordKind.PERSON, victimId)) },
                    onAssessment = { vm.openAssessment(victimId) { onNavigate(editorRoute(RecordKind.VICTIM_NEEDS_ASSESSMENT, it)) } },
                    onRemove = { vm.removeVictim(victimId) },
                    onExemption = { reason, note -> vm.setExemption(victimId, reason, note) },
                )
            }
            OutlinedButton(onClick = { vm.addVictim { onNavigate(editorRoute(RecordKind.PERSON, it)) } }, enabled = on) {
                Text("Add victim")
            }
        }

        Section("Outcome") {
            ChoiceField(
                "Outcome",
                refs?.crimeOutcomes.orEmpty().map { it.code to "${it.code} ${it.label}" },
                crime.outcome?.code,
                vm::setOutcome,
                f,
                "outcome",
                on,
            )
            Text("Victim's decision not to support action", style = MaterialTheme.typography.labelLarge)
            f.exactly("victim_decision").forEach { FindingLine(it) }
            ChoiceField(
                "Victim",
                crime.victims.mapIndexed { i, v -> v to "Victim ${i + 1}" },
                crime.victimDecision?.victimId,
                { v -> edit { it.copy(victimDecision = (it.victimDecision ?: VictimDecision(v, Instant.now(), "", "")).copy(victimId = v)) } },
                f,
                "victim_decision.victim_id",
                on,
            )
            crime.victimDecision?.let { decision ->
                TimeField("Recorded", decision.recordedAt, { t -> edit { it.copy(victimDecision = decision.copy(recordedAt = t)) } }, f, "victim_decision.recorded_at", on)
                RecordTextField("How it was obtained", decision.method, { m -> edit { it.copy(victimDecision = decision.copy(method = m)) } }, f, "victim_decision.method", on)
                RecordTextField("Evidence reference", decision.evidenceRef, { r -> edit { it.copy(victimDecision = decision.copy(evidenceRef = r)) } }, f, "victim_decision.evidence_ref", on)
            }
        }
    }
}

/** One victim: their details and needs assessment are separate records, opened from here. */
@Composable
private fun VictimCard(
    index: Int,
    victimId: String,
    crime: CrimeReport,
    hasAssessment: Boolean,
    findings: List<Finding>,
    enabled: Boolean,
    onDetails: () -> Unit,
    onAssessment: () -> Unit,
    onRemove: () -> Unit,
    onExemption: (NoAssessmentReason?, String?) -> Unit,
) {
    val exemptionIndex = crime.assessmentExemptions.indexOfFirst { it.victimId == victimId }
    val exemption: AssessmentExemption? = crime.assessmentExemptions.getOrNull(exemptionIndex)
    Card(Modifier.fillMaxWidth()) {
        Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            Text("Victim ${index + 1}", style = MaterialTheme.typography.titleSmall)
            findings.at("victims[$index]").forEach { FindingLine(it) }
            Row(horizontalArrangement = Arrangement.spacedBy(4.dp)) {
                TextButton(onClick = onDetails, enabled = enabled) { Text("Details") }
                TextButton(onClick = onAssessment, enabled = enabled) {
                    Text(if (hasAssessment) "Needs assessment" else "Start needs assessment")
                }
                TextButton(onClick = onRemove, enabled = enabled) { Text("Remove") }
            }
            val path = "assessment_exemptions[$exemptionIndex]"
            ChoiceField(
                "No needs assessment because",
                listOf("" to "Not applicable") + NoAssessmentReason.entries.map { it.name to it.label() },
                exemption?.reason?.name ?: "",
                { name -> onExemption(name.takeIf { it.isNotEmpty() }?.let(NoAssessmentReason::valueOf), exemption?.note) },
                if (exemptionIndex >= 0) findings.filterNot { it.field == "$path.note" } else emptyList(),
                path,
                enabled,
            )
            if (exemption != null) {
                RecordTextField(
                    "What was tried, or the risk contact would bring",
                    exemption.note,
                    { note -> onExemption(exemption.reason, note.ifEmpty { null }) },
                    findings,
                    "$path.note",
                    enabled,
                    minLines = 2,
                )
            }
        }
    }
}

private fun NoAssessmentReason.label() = when (this) {
    NoAssessmentReason.DECLINED -> "Victim declined"
    NoAssessmentReason.UNCONTACTABLE -> "Victim could not be contacted"
    NoAssessmentReason.SAFETY -> "Contact would put the victim at risk"
}
