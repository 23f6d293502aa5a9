package org.fieldbook.app.ui.vna

import android.content.Context
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.ExperimentalLayoutApi
import androidx.compose.foundation.layout.FlowRow
import androidx.compose.material3.FilterChip
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import java.time.Instant
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import org.fieldbook.app.at
import org.fieldbook.app.ui.ChoiceField
import org.fieldbook.app.ui.EditorScaffold
import org.fieldbook.app.ui.FindingLine
import org.fieldbook.app.ui.FindingLines
import org.fieldbook.app.ui.RecordEditorViewModel
import org.fieldbook.app.ui.RecordTextField
import org.fieldbook.app.ui.Section
import org.fieldbook.app.ui.SwitchField
import org.fieldbook.app.ui.TimeField
import org.fieldbook.app.ui.YesNoField
import org.fieldbook.core.FieldbookRepository
import org.fieldbook.ffi.ContactChannel
import org.fieldbook.ffi.ContactPreferences
import org.fieldbook.ffi.EnhancedRightsOverride
import org.fieldbook.ffi.Record
import org.fieldbook.ffi.ReferenceLists
import org.fieldbook.ffi.Referral
import org.fieldbook.ffi.ReferralDecision
import org.fieldbook.ffi.VictimNeedsAssessment
import org.fieldbook.ffi.VpsStatus

class VictimNeedsAssessmentViewModel(repository: FieldbookRepository, id: String, appContext: Context) :
    RecordEditorViewModel<VictimNeedsAssessment>(repository, id, appContext) {
    private val references = MutableStateFlow<ReferenceLists?>(null)
    val referenceLists: StateFlow<ReferenceLists?> = references.asStateFlow()

    init {
        call { references.value = repository.referenceLists() }
    }

    override fun unwrap(record: Record) = (record as Record.Vna).value
    override fun wrap(value: VictimNeedsAssessment) = Record.Vna(value)
}

private val shownPaths = listOf(
    "crime_id", "victim_id", "assessed_at", "enhanced_rights", "enhanced_rights_overrides", "communication",
    "contact", "referral", "vps", "acknowledgement_given", "notes",
)

@OptIn(ExperimentalLayoutApi::class)
@Composable
fun VictimNeedsAssessmentScreen(vm: VictimNeedsAssessmentViewModel, onBack: () -> Unit) {
    val state by vm.state.collectAsStateWithLifecycle()
    val refs by vm.referenceLists.collectAsStateWithLifecycle()

    EditorScaffold("Victim needs assessment", state, shownPaths, vm::save, vm::submit, onBack) {
        val vna = state.value ?: return@EditorScaffold
        val f = state.findings
        val on = !state.busy
        val rights = refs?.enhancedRights.orEmpty()

        FindingLines(f, "crime_id")
        FindingLines(f, "victim_id")
        TimeField("Assessed", vna.assessedAt, { t -> vm.edit { it.copy(assessedAt = t) } }, f, "assessed_at", on)

        Section("Enhanced rights") {
            f.at("enhanced_rights").forEach { FindingLine(it) }
            FlowRow(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                rights.forEach { choice ->
                    val selected = choice.code in vna.enhancedRights
                    FilterChip(
                        selected = selected,
                        enabled = on,
                        onClick = {
                            vm.edit { it.copy(enhancedRights = if (selected) it.enhancedRights - choice.code else it.enhancedRights + choice.code) }
                        },
                        label = { Text(choice.label) },
                    )
                }
            }
            vna.enhancedRightsOverrides.forEachIndexed { i, override ->
                val path = "enhanced_rights_overrides[$i]"
                fun replace(o: EnhancedRightsOverride?) = vm.edit {
                    it.copy(enhancedRightsOverrides = it.enhancedRightsOverrides.toMutableList().apply { if (o == null) removeAt(i) else set(i, o) })
                }
                ChoiceField("Category left out", rights.map { it.code to it.label }, override.category, { replace(override.copy(category = it)) }, f, "$path.category", on)
                RecordTextField("Why it does not apply", override.reason, { replace(override.copy(reason = it)) }, f, "$path.reason", on, minLines = 2)
                TextButton(onClick = { replace(null) }, enabled = on) { Text("Remove this override") }
            }
            OutlinedButton(
                onClick = { vm.edit { it.copy(enhancedRightsOverrides = it.enhancedRightsOverrides + EnhancedRightsOverride(rights.firstOrNull()?.code.orEmpty(), "")) } },
                enabled = on && rights.isNotEmpty(),
            ) { Text("Leave out a category, with a reason") }
        }

        Section("Communication needs") {
            val c = vna.communication
            RecordTextField("Interpreter (language)", c.interpreterLanguage, { l -> vm.edit { it.copy(communication = c.copy(interpreterLanguage = l.ifEmpty { null })) } }, f, "communication.interpreter_language", on)
            SwitchField("EasyRead", c.easyRead, { v -> vm.edit { it.copy(communication = c.copy(easyRead = v)) } }, on)
            SwitchField("Braille", c.braille, { v -> vm.edit { it.copy(communication = c.copy(braille = v)) } }, on)
            SwitchField("Registered intermediary", c.intermediary, { v -> vm.edit { it.copy(communication = c.copy(intermediary = v)) } }, on)
        }

        Section("Contact") {
            ChoiceField(
                "Preferred channel",
                ContactChannel.entries.map { it.name to it.label() },
                vna.contact?.channel?.name,
                { name ->
                    vm.edit {
                        val channel = ContactChannel.valueOf(name)
                        it.copy(contact = it.contact?.copy(channel = channel) ?: ContactPreferences(channel, null, null, false))
                    }
                },
                f,
                "contact",
                on,
            )
            vna.contact?.let { contact ->
                RecordTextField("How often", contact.frequency, { v -> vm.edit { it.copy(contact = contact.copy(frequency = v.ifEmpty { null })) } }, f, "contact.frequency", on)
                RecordTextField("Safe way to make contact", contact.safeContactMethod, { v -> vm.edit { it.copy(contact = contact.copy(safeContactMethod = v.ifEmpty { null })) } }, f, "contact.safe_contact_method", on, minLines = 2)
                SwitchField("Automatic updates (text, email) allowed", contact.automaticMessages, { v -> vm.edit { it.copy(contact = contact.copy(automaticMessages = v)) } }, on)
                FindingLines(f, "contact.automatic_messages")
            }
        }

        Section("Referral to victim support") {
            ChoiceField(
                "Decision",
                ReferralDecision.entries.map { it.name to it.label() },
                vna.referral?.decision?.name,
                { name ->
                    vm.edit {
                        val decision = ReferralDecision.valueOf(name)
                        it.copy(referral = Referral(decision, it.referral?.explicitConsent, Instant.now(), it.referral?.referredAt))
                    }
                },
                f,
                "referral",
                on,
            )
            vna.referral?.let { referral ->
                YesNoField("Explicit consent given", referral.explicitConsent, { v -> vm.edit { it.copy(referral = referral.copy(explicitConsent = v)) } }, f, "referral.explicit_consent", on)
                TimeField("Referred", referral.referredAt, { t -> vm.edit { it.copy(referral = referral.copy(referredAt = t)) } }, f, "referral.referred_at", on)
            }
        }

        Section("Victim Personal Statement and acknowledgement") {
            ChoiceField("Victim Personal Statement", VpsStatus.entries.map { it.name to it.name.lowercase().replaceFirstChar(Char::uppercase) }, vna.vps?.name, { v -> vm.edit { it.copy(vps = VpsStatus.valueOf(v)) } }, f, "vps", on)
            SwitchField("Written acknowledgement given", vna.acknowledgementGiven, { v -> vm.edit { it.copy(acknowledgementGiven = v) } }, on)
            FindingLines(f, "acknowledgement_given")
            RecordTextField("Notes", vna.notes, { n -> vm.edit { it.copy(notes = n) } }, f, "notes", on, minLines = 3)
        }
    }
}

private fun ContactChannel.label() = when (this) {
    ContactChannel.PHONE -> "Phone call"
    ContactChannel.SMS -> "Text message"
    ContactChannel.EMAIL -> "Email"
    ContactChannel.LETTER -> "Letter"
    ContactChannel.IN_PERSON -> "In person"
}

private fun ReferralDecision.label() = when (this) {
    ReferralDecision.REFERRED -> "Referred"
    ReferralDecision.OPTED_OUT -> "Victim opted out"
    ReferralDecision.NO_CONSENT -> "Not referred: no explicit consent"
}
