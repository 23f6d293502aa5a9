package org.fieldbook.app.ui.stopsearch

import android.content.Context
import androidx.compose.material3.MaterialTheme
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
import org.fieldbook.app.ui.TimeField
import org.fieldbook.app.ui.YesNoField
import org.fieldbook.app.ui.withDescription
import org.fieldbook.core.FieldbookRepository
import org.fieldbook.ffi.AgeEvidence
import org.fieldbook.ffi.Record
import org.fieldbook.ffi.ReferenceLists
import org.fieldbook.ffi.StopSearch

class StopSearchViewModel(repository: FieldbookRepository, id: String, appContext: Context) :
    RecordEditorViewModel<StopSearch>(repository, id, appContext) {
    private val references = MutableStateFlow<ReferenceLists?>(null)
    val referenceLists: StateFlow<ReferenceLists?> = references.asStateFlow()

    init {
        call { references.value = repository.referenceLists() }
    }

    override fun unwrap(record: Record) = (record as Record.StopSearch).value
    override fun wrap(value: StopSearch) = Record.StopSearch(value)
}

// Field paths are the record's JSON names, as the core's findings give them
// (`search_type` is published, and checked, as `type`).
private val shownPaths = listOf(
    "type", "detained_at", "searched_at", "location", "legislation", "object_of_search", "grounds",
    "authorisation_ref", "outcome", "outcome_linked_to_object_of_search", "removal_of_more_than_outer_clothing",
    "injury_or_damage", "injury_or_damage_details", "person_description", "gender", "age", "age_range",
    "self_defined_ethnicity", "officer_defined_ethnicity", "vehicle_registration", "bwv_used", "bwv_reason",
    "receipt_given", "receipt_not_given_reason", "operation_name",
)

@Composable
fun StopSearchScreen(vm: StopSearchViewModel, onBack: () -> Unit, onReceipt: (String) -> Unit) {
    val state by vm.state.collectAsStateWithLifecycle()
    val refs by vm.referenceLists.collectAsStateWithLifecycle()

    EditorScaffold("Stop and search", state, shownPaths, vm::save, vm::submit, onBack) {
        val ss = state.value ?: return@EditorScaffold
        val f = state.findings
        val on = !state.busy
        fun edit(change: (StopSearch) -> StopSearch) = vm.edit(change)
        fun labels(values: List<String>?) = values.orEmpty().map { it to it }

        Section("Encounter") {
            ChoiceField("Type", labels(refs?.searchTypes), ss.searchType, { v -> edit { it.copy(searchType = v) } }, f, "type", on)
            TimeField("Detained", ss.detainedAt, { t -> edit { it.copy(detainedAt = t) } }, f, "detained_at", on)
            TimeField("Searched (if different)", ss.searchedAt, { t -> edit { it.copy(searchedAt = t) } }, f, "searched_at", on)
            RecordTextField("Place", ss.location?.description, { d -> edit { it.copy(location = it.location.withDescription(d)) } }, f, "location", on)
            RecordTextField("Operation", ss.operationName, { v -> edit { it.copy(operationName = v.ifEmpty { null }) } }, f, "operation_name", on)
        }

        Section("Power, object and grounds") {
            val powers = refs?.searchPowers.orEmpty()
            ChoiceField("Power", powers.map { it.label to it.label }, ss.legislation, { v -> edit { it.copy(legislation = v) } }, f, "legislation", on)
            val objects = powers.firstOrNull { it.label == ss.legislation }?.objects ?: powers.flatMap { it.objects }.distinct()
            ChoiceField("Object of search", labels(objects), ss.objectOfSearch, { v -> edit { it.copy(objectOfSearch = v) } }, f, "object_of_search", on)
            RecordTextField("Grounds: what you saw, heard or were told about this person", ss.grounds, { v -> edit { it.copy(grounds = v.ifEmpty { null }) } }, f, "grounds", on, minLines = 5)
            RecordTextField("Authorisation reference (s60 / s47A)", ss.authorisationRef, { v -> edit { it.copy(authorisationRef = v.ifEmpty { null }) } }, f, "authorisation_ref", on)
        }

        Section("Outcome") {
            ChoiceField("Outcome", labels(refs?.searchOutcomes), ss.outcome, { v -> edit { it.copy(outcome = v) } }, f, "outcome", on)
            YesNoField("Outcome linked to the object of search", ss.outcomeLinkedToObjectOfSearch, { v -> edit { it.copy(outcomeLinkedToObjectOfSearch = v) } }, f, "outcome_linked_to_object_of_search", on)
            YesNoField("More than outer clothing removed", ss.removalOfMoreThanOuterClothing, { v -> edit { it.copy(removalOfMoreThanOuterClothing = v) } }, f, "removal_of_more_than_outer_clothing", on)
            YesNoField("Injury or damage", ss.injuryOrDamage, { v -> edit { it.copy(injuryOrDamage = v) } }, f, "injury_or_damage", on)
            if (ss.injuryOrDamage == true) {
                RecordTextField("Injury or damage details", ss.injuryOrDamageDetails, { v -> edit { it.copy(injuryOrDamageDetails = v.ifEmpty { null }) } }, f, "injury_or_damage_details", on, minLines = 2)
            }
        }

        Section("Person searched (no name or address needed)") {
            RecordTextField("Description", ss.personDescription, { v -> edit { it.copy(personDescription = v.ifEmpty { null }) } }, f, "person_description", on, minLines = 2)
            ChoiceField("Gender", labels(refs?.genders), ss.gender, { v -> edit { it.copy(gender = v) } }, f, "gender", on)
            RecordTextField(
                "Age in years",
                ss.age?.years?.toString(),
                { text ->
                    val years = text.toIntOrNull()?.takeIf { it in 0..150 }?.toUByte()
                    if (text.isEmpty()) edit { it.copy(age = null) }
                    else if (years != null) edit { it.copy(age = AgeEvidence(years, it.age?.estimated ?: false)) }
                },
                f,
                "age",
                on,
            )
            ss.age?.let { age ->
                SwitchField("Age is an estimate", age.estimated, { v -> edit { it.copy(age = age.copy(estimated = v)) } }, on)
            }
            // Derived by the core from the age on every save; never typed.
            Text("Age range: ${ss.ageRange ?: "from the age, when saved"}", style = MaterialTheme.typography.bodySmall)
            FindingLines(f, "age_range")
            ChoiceField("Self-defined ethnicity", refs?.selfDefinedEthnicities.orEmpty().map { it.label to it.label }, ss.selfDefinedEthnicity, { v -> edit { it.copy(selfDefinedEthnicity = v) } }, f, "self_defined_ethnicity", on)
            ChoiceField("Officer-defined ethnicity", labels(refs?.officerDefinedEthnicities), ss.officerDefinedEthnicity, { v -> edit { it.copy(officerDefinedEthnicity = v) } }, f, "officer_defined_ethnicity", on)
            RecordTextField("Vehicle registration (if a vehicle was searched)", ss.vehicleRegistration, { v -> edit { it.copy(vehicleRegistration = v.ifEmpty { null }) } }, f, "vehicle_registration", on)
        }

        Section("Body-worn video and receipt") {
            YesNoField("Body-worn video recording", ss.bwvUsed, { v -> edit { it.copy(bwvUsed = v) } }, f, "bwv_used", on)
            if (ss.bwvUsed == false) {
                RecordTextField("Why not", ss.bwvReason, { v -> edit { it.copy(bwvReason = v.ifEmpty { null }) } }, f, "bwv_reason", on)
            }
            Text("Receipt reference: ${ss.receiptReference}", style = MaterialTheme.typography.bodyMedium)
            YesNoField("Receipt given at the scene", ss.receiptGiven, { v -> edit { it.copy(receiptGiven = v) } }, f, "receipt_given", on)
            if (ss.receiptGiven == false) {
                RecordTextField("Why no receipt", ss.receiptNotGivenReason, { v -> edit { it.copy(receiptNotGivenReason = v.ifEmpty { null }) } }, f, "receipt_not_given_reason", on)
            }
            OutlinedButton(onClick = { vm.save { onReceipt(vm.id) } }, enabled = on) { Text("Show receipt") }
        }
    }
}
