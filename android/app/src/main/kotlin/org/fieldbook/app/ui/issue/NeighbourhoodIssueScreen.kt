package org.fieldbook.app.ui.issue

import android.content.Context
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import org.fieldbook.app.ui.ChoiceField
import org.fieldbook.app.ui.EditorScaffold
import org.fieldbook.app.ui.FindingLines
import org.fieldbook.app.ui.RecordEditorViewModel
import org.fieldbook.app.ui.RecordTextField
import org.fieldbook.app.ui.Section
import org.fieldbook.app.ui.SwitchField
import org.fieldbook.app.ui.ThriveFields
import org.fieldbook.app.ui.TimeField
import org.fieldbook.app.ui.editorRoute
import org.fieldbook.app.ui.withDescription
import org.fieldbook.core.FieldbookRepository
import org.fieldbook.ffi.NeighbourhoodIssue
import org.fieldbook.ffi.Record
import org.fieldbook.ffi.RecordKind
import org.fieldbook.ffi.ReferenceLists

class NeighbourhoodIssueViewModel(repository: FieldbookRepository, id: String, appContext: Context) :
    RecordEditorViewModel<NeighbourhoodIssue>(repository, id, appContext) {
    private val references = MutableStateFlow<ReferenceLists?>(null)
    val referenceLists: StateFlow<ReferenceLists?> = references.asStateFlow()

    init {
        call { references.value = repository.referenceLists() }
    }

    override fun unwrap(record: Record) = (record as Record.Issue).value
    override fun wrap(value: NeighbourhoodIssue) = Record.Issue(value)

    /** A new person record as the reporter; [open] goes to it to take their details. */
    fun addReporter(open: (String) -> Unit) = call {
        val person = (repository.create(RecordKind.PERSON) as Record.Person).value
        edit { it.copy(reporterId = person.meta.id, anonymousReporter = false) }
        persist()
        open(person.meta.id)
    }
}

private val shownPaths = listOf(
    "reported_at", "location", "asb_type", "qualifier", "reporter_id", "flags", "thrive", "narrative",
    "actions_taken", "sara_plan_ref",
)

@Composable
fun NeighbourhoodIssueScreen(vm: NeighbourhoodIssueViewModel, onBack: () -> Unit, onNavigate: (String) -> Unit) {
    val state by vm.state.collectAsStateWithLifecycle()
    val refs by vm.referenceLists.collectAsStateWithLifecycle()

    EditorScaffold("Neighbourhood issue", state, shownPaths, vm::save, vm::submit, onBack) {
        val issue = state.value ?: return@EditorScaffold
        val f = state.findings
        val on = !state.busy
        fun edit(change: (NeighbourhoodIssue) -> NeighbourhoodIssue) = vm.edit(change)

        Section("Issue") {
            TimeField("Reported", issue.reportedAt, { t -> edit { it.copy(reportedAt = t) } }, f, "reported_at", on)
            RecordTextField("Place", issue.location?.description, { d -> edit { it.copy(location = it.location.withDescription(d)) } }, f, "location", on)
            ChoiceField("Anti-social behaviour type", refs?.asbTypes.orEmpty().map { it.code to it.label }, issue.asbType, { v -> edit { it.copy(asbType = v) } }, f, "asb_type", on)
            ChoiceField("Qualifier", refs?.asbQualifiers.orEmpty().map { it to it }, issue.qualifier, { v -> edit { it.copy(qualifier = v) } }, f, "qualifier", on)
        }

        Section("Reporter") {
            SwitchField("Reporter asked to stay anonymous", issue.anonymousReporter, { v -> edit { it.copy(anonymousReporter = v) } }, on)
            FindingLines(f, "reporter_id")
            val reporter = issue.reporterId
            if (reporter != null) {
                OutlinedButton(onClick = { vm.save { onNavigate(editorRoute(RecordKind.PERSON, reporter)) } }, enabled = on) { Text("Reporter's details") }
            } else if (!issue.anonymousReporter) {
                OutlinedButton(onClick = { vm.addReporter { onNavigate(editorRoute(RecordKind.PERSON, it)) } }, enabled = on) { Text("Add reporter") }
            }
            SwitchField("Has reported before", issue.flags.repeat, { v -> edit { it.copy(flags = it.flags.copy(repeat = v)) } }, on)
            SwitchField("Vulnerable", issue.flags.vulnerable, { v -> edit { it.copy(flags = it.flags.copy(vulnerable = v)) } }, on)
        }

        Section("THRIVE risk assessment") {
            ThriveFields(issue.thrive, { t -> edit { it.copy(thrive = t) } }, f, on)
        }

        Section("What happened and what was done") {
            RecordTextField("Narrative", issue.narrative, { v -> edit { it.copy(narrative = v) } }, f, "narrative", on, minLines = 5)
            RecordTextField("Actions taken", issue.actionsTaken, { v -> edit { it.copy(actionsTaken = v) } }, f, "actions_taken", on, minLines = 3)
            RecordTextField("Problem-solving (SARA) plan reference", issue.saraPlanRef, { v -> edit { it.copy(saraPlanRef = v.ifEmpty { null }) } }, f, "sara_plan_ref", on)
        }
    }
}
