package org.fieldbook.app.ui.crime

import android.content.Context
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import org.fieldbook.app.records
import org.fieldbook.app.ui.RecordEditorViewModel
import org.fieldbook.core.FieldbookRepository
import org.fieldbook.ffi.AssessmentExemption
import org.fieldbook.ffi.CrimeReport
import org.fieldbook.ffi.NoAssessmentReason
import org.fieldbook.ffi.Record
import org.fieldbook.ffi.RecordFilter
import org.fieldbook.ffi.RecordKind
import org.fieldbook.ffi.ReferenceLists

class CrimeReportViewModel(repository: FieldbookRepository, id: String, appContext: Context) :
    RecordEditorViewModel<CrimeReport>(repository, id, appContext) {

    private val references = MutableStateFlow<ReferenceLists?>(null)
    val referenceLists: StateFlow<ReferenceLists?> = references.asStateFlow()

    private val assessmentIds = MutableStateFlow<Map<String, String>>(emptyMap())

    /** Victim person id to the id of their needs assessment for this crime. */
    val assessments: StateFlow<Map<String, String>> = assessmentIds.asStateFlow()

    init {
        call {
            references.value = repository.referenceLists()
            loadAssessments()
        }
    }

    override fun unwrap(record: Record) = (record as Record.Crime).value
    override fun wrap(value: CrimeReport) = Record.Crime(value)

    /** Back from a victim's or an assessment's screen: show what changed there. */
    fun refresh() {
        if (state.value.value != null && !state.value.dirty) call {
            reload()
            loadAssessments()
        }
    }

    /** The core fills in the offence label and police.uk category from this year's reference data. */
    fun classify(offenceCode: String) = call {
        persist()
        repository.setFields(id, listOf("classification=$offenceCode"))
        reload()
    }

    fun setOutcome(outcomeCode: String) = call {
        persist()
        repository.setFields(id, listOf("outcome=$outcomeCode"))
        reload()
    }

    /** A new person record, listed as a victim; [open] goes to it to take their details. */
    fun addVictim(open: (String) -> Unit) = call {
        val person = (repository.create(RecordKind.PERSON) as Record.Person).value
        edit { it.copy(victims = it.victims + person.meta.id) }
        persist()
        open(person.meta.id)
    }

    fun removeVictim(victimId: String) = edit { crime ->
        crime.copy(
            victims = crime.victims - victimId,
            assessmentExemptions = crime.assessmentExemptions.filter { it.victimId != victimId },
        )
    }

    /** Opens the victim's needs assessment for this crime, creating it linked to both. */
    fun openAssessment(victimId: String, open: (String) -> Unit) = call {
        persist()
        assessmentIds.value[victimId]?.let { return@call open(it) }
        val vna = (repository.create(RecordKind.VICTIM_NEEDS_ASSESSMENT) as Record.Vna).value
        repository.save(Record.Vna(vna.copy(crimeId = id, victimId = victimId)))
        loadAssessments()
        open(vna.meta.id)
    }

    /** Records (or, with a null [reason], clears) why a victim has no needs assessment. */
    fun setExemption(victimId: String, reason: NoAssessmentReason?, note: String?) = edit { crime ->
        val others = crime.assessmentExemptions.filter { it.victimId != victimId }
        crime.copy(assessmentExemptions = others + listOfNotNull(reason?.let { AssessmentExemption(victimId, it, note) }))
    }

    private suspend fun loadAssessments() {
        val summaries = repository.records(RecordFilter(kind = RecordKind.VICTIM_NEEDS_ASSESSMENT))
        assessmentIds.value = summaries
            .mapNotNull { (repository.get(it.id) as? Record.Vna)?.value }
            .filter { it.crimeId == id }
            .mapNotNull { vna -> vna.victimId?.let { it to vna.meta.id } }
            .toMap()
    }
}
