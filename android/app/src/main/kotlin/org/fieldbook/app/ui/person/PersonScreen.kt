package org.fieldbook.app.ui.person

import android.content.Context
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import org.fieldbook.app.exactly
import org.fieldbook.app.ui.EditorScaffold
import org.fieldbook.app.ui.FindingLine
import org.fieldbook.app.ui.RecordEditorViewModel
import org.fieldbook.app.ui.RecordTextField
import org.fieldbook.app.ui.Section
import org.fieldbook.core.FieldbookRepository
import org.fieldbook.ffi.Person
import org.fieldbook.ffi.PersonName
import org.fieldbook.ffi.Record

/**
 * A person's details: the only record that holds them. Opening this screen is a read of
 * personal data, which the core writes to the access log.
 */
class PersonViewModel(repository: FieldbookRepository, id: String, appContext: Context) :
    RecordEditorViewModel<Person>(repository, id, appContext) {
    override fun unwrap(record: Record) = (record as Record.Person).value
    override fun wrap(value: Person) = Record.Person(value)
}

// Other names (aliases) and findings about the list as a whole go to the summary at the top.
private val shownPaths = listOf("names[0]", "date_of_birth", "address", "contact", "description")

@Composable
fun PersonScreen(vm: PersonViewModel, onBack: () -> Unit) {
    val state by vm.state.collectAsStateWithLifecycle()

    EditorScaffold("Person", state, shownPaths, vm::save, onSubmit = null, onBack = onBack) {
        val person = state.value ?: return@EditorScaffold
        val f = state.findings
        val on = !state.busy
        val name = person.names.firstOrNull() ?: PersonName(given = "", family = "", alias = false)
        fun setName(changed: PersonName) = vm.edit { it.copy(names = listOf(changed) + it.names.drop(1)) }

        Section("Name") {
            f.exactly("names[0]").forEach { FindingLine(it) }
            RecordTextField("Given name(s)", name.given, { setName(name.copy(given = it)) }, f, "names[0].given", on)
            RecordTextField("Family name", name.family, { setName(name.copy(family = it)) }, f, "names[0].family", on)
            RecordTextField("Date of birth (YYYY-MM-DD)", person.dateOfBirth, { v -> vm.edit { it.copy(dateOfBirth = v.ifEmpty { null }) } }, f, "date_of_birth", on)
        }
        Section("Contact") {
            RecordTextField("Address", person.address, { v -> vm.edit { it.copy(address = v.ifEmpty { null }) } }, f, "address", on, minLines = 3)
            RecordTextField("Phone", person.contact.phone, { v -> vm.edit { it.copy(contact = it.contact.copy(phone = v.ifEmpty { null })) } }, f, "contact.phone", on)
            RecordTextField("Email", person.contact.email, { v -> vm.edit { it.copy(contact = it.contact.copy(email = v.ifEmpty { null })) } }, f, "contact.email", on)
        }
        Section("Description") {
            RecordTextField("Physical description", person.description, { v -> vm.edit { it.copy(description = v.ifEmpty { null }) } }, f, "description", on, minLines = 2)
        }
    }
}
