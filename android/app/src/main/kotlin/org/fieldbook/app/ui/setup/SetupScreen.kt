package org.fieldbook.app.ui.setup

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Button
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.ViewModel
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.viewModelScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch
import org.fieldbook.app.FieldbookApp
import org.fieldbook.app.ui.ChoiceField
import org.fieldbook.app.ui.FindingLine
import org.fieldbook.app.ui.RecordTextField
import org.fieldbook.app.userMessage
import org.fieldbook.ffi.FieldbookException
import org.fieldbook.ffi.Finding
import org.fieldbook.ffi.Role

data class SetupState(val busy: Boolean = false, val message: String? = null, val findings: List<Finding> = emptyList())

/** First run (create the store, then enrol) or enrolment again for an existing store. */
class SetupViewModel(private val app: FieldbookApp) : ViewModel() {
    private val mutableState = MutableStateFlow(SetupState())
    val state: StateFlow<SetupState> = mutableState.asStateFlow()

    fun setUp(officer: String, role: Role, server: String, code: String) = run { app.setUp(officer.trim(), role, server.trim(), code) }

    fun enrol(server: String, code: String) = run { app.enrol(server.trim(), code) }

    private fun run(block: suspend () -> Unit) = viewModelScope.launch {
        mutableState.value = SetupState(busy = true)
        mutableState.value = try {
            block()
            SetupState()
        } catch (e: FieldbookException) {
            SetupState(message = e.userMessage(), findings = (e as? FieldbookException.Validation)?.findings.orEmpty())
        } catch (e: Exception) {
            // The platform keystore failed before the core was reached.
            SetupState(message = "This phone's keystore could not make a key: ${e.javaClass.simpleName}")
        }
    }
}

@Composable
fun SetupScreen(vm: SetupViewModel, hasStore: Boolean) {
    val state by vm.state.collectAsStateWithLifecycle()
    var officer by rememberSaveable { mutableStateOf("") }
    var role by rememberSaveable { mutableStateOf(Role.OFFICER.name) }
    var server by rememberSaveable { mutableStateOf("https://") }
    var code by rememberSaveable { mutableStateOf("") }
    val f = state.findings
    val on = !state.busy

    Column(
        Modifier.fillMaxSize().verticalScroll(rememberScrollState()).padding(24.dp),
        verticalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        Text(if (hasStore) "Enrol this phone" else "Set up this phone", style = MaterialTheme.typography.headlineSmall)
        Text("Use the one-time enrolment code issued to you. Records stay on this phone, encrypted, until they reach the force's server.")
        if (!hasStore) {
            RecordTextField("Collar number", officer, { officer = it }, f, "officer", on)
            ChoiceField(
                "Role",
                listOf(Role.OFFICER.name to "Police officer", Role.PCSO.name to "PCSO", Role.SUPERVISOR.name to "Supervisor"),
                role,
                { role = it },
                f,
                "role",
                on,
            )
        }
        RecordTextField("Server address", server, { server = it }, f, "server", on)
        RecordTextField("Enrolment code", code, { code = it }, f, "code", on)
        if (state.busy) LinearProgressIndicator()
        state.message?.let { Text(it, color = MaterialTheme.colorScheme.error) }
        f.filter { it.field !in setOf("officer", "role", "server", "code") }.forEach { FindingLine(it) }
        Button(
            onClick = { if (hasStore) vm.enrol(server, code) else vm.setUp(officer, Role.valueOf(role), server, code) },
            enabled = on,
        ) { Text(if (hasStore) "Enrol" else "Set up") }
    }
}

/**
 * The store is there but cannot be opened. Nothing is deleted: when the key is gone (keystore
 * cleared, phone restored) the officer may keep the file aside and start a fresh store that
 * pulls their synced records back from the server; work that never synced stays unreadable.
 */
@Composable
fun UnreadableStoreScreen(error: FieldbookException, onStartAgain: () -> Unit) {
    var confirming by remember { mutableStateOf(false) }
    val code = (error as? FieldbookException.Storage)?.code
    val keyLost = code in setOf("key-rejected", "key-unavailable", "bad-key", "store-corrupt")
    Column(Modifier.fillMaxSize().padding(24.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
        Text("Fieldbook cannot open this phone's records", style = MaterialTheme.typography.headlineSmall)
        Text(error.userMessage())
        when {
            code == "store-too-new" -> Text("This store was written by a newer Fieldbook. Update the app; do not clear its data.")
            keyLost -> Button(onClick = { confirming = true }) { Text("Keep the old file and start again") }
            else -> Text("Contact IT support with the code ${code ?: "unknown"}. Do not clear the app's data.")
        }
    }
    if (confirming) {
        AlertDialog(
            onDismissRequest = { confirming = false },
            title = { Text("Start again?") },
            text = {
                Text(
                    "Records that reached the server come back after you enrol. Anything on this phone " +
                        "that had not synced cannot be read again. The old file is kept, not deleted.",
                )
            },
            confirmButton = {
                TextButton(onClick = {
                    confirming = false
                    onStartAgain()
                }) { Text("Start again") }
            },
            dismissButton = { TextButton(onClick = { confirming = false }) { Text("Cancel") } },
        )
    }
}
