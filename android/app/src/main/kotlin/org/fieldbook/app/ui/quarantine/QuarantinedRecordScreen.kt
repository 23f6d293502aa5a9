package org.fieldbook.app.ui.quarantine

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.automirrored.filled.ArrowBack
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.BottomAppBar
import androidx.compose.material3.Button
import androidx.compose.material3.ButtonDefaults
import androidx.compose.material3.Card
import androidx.compose.material3.CardDefaults
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.unit.dp
import androidx.lifecycle.ViewModel
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.viewModelScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import org.fieldbook.app.dismissQuarantine
import org.fieldbook.app.quarantine
import org.fieldbook.app.quarantinedRecord
import org.fieldbook.app.ui.Section
import org.fieldbook.app.ui.display
import org.fieldbook.app.ui.editorRoute
import org.fieldbook.app.ui.label
import org.fieldbook.app.userMessage
import org.fieldbook.core.FieldbookRepository
import org.fieldbook.ffi.FieldbookException
import org.fieldbook.ffi.QuarantineItem
import org.fieldbook.ffi.Record

/** One kept refused state: the item, and the whole record as the officer had typed it. */
data class QuarantinedState(
    val item: QuarantineItem? = null,
    val record: Record? = null,
    val message: String? = null,
    val busy: Boolean = false,
)

class QuarantinedRecordViewModel(
    private val repository: FieldbookRepository,
    private val recordId: String,
    private val quarantineId: ULong,
) : ViewModel() {
    private val mutableState = MutableStateFlow(QuarantinedState())
    val state: StateFlow<QuarantinedState> = mutableState.asStateFlow()

    init {
        load()
    }

    fun load() = viewModelScope.launch {
        mutableState.update { it.copy(busy = true, message = null) }
        try {
            val item = repository.quarantine().firstOrNull { it.id == quarantineId }
            if (item == null) {
                mutableState.update { it.copy(item = null, record = null, message = "This refused version has already been dismissed.") }
                return@launch
            }
            mutableState.update { it.copy(item = item) }
            // Read apart from the item: if the record cannot be read, the refused fields still show.
            val record = repository.quarantinedRecord(recordId, quarantineId)
            mutableState.update { it.copy(record = record) }
        } catch (e: FieldbookException) {
            mutableState.update { it.copy(message = e.userMessage()) }
        } finally {
            mutableState.update { it.copy(busy = false) }
        }
    }

    /** Deletes the kept state for good; called only after the officer has confirmed. */
    fun dismiss(then: () -> Unit) = viewModelScope.launch {
        mutableState.update { it.copy(busy = true, message = null) }
        try {
            repository.dismissQuarantine(quarantineId)
            then()
        } catch (e: FieldbookException) {
            mutableState.update { it.copy(message = e.userMessage()) }
        } finally {
            mutableState.update { it.copy(busy = false) }
        }
    }
}

/**
 * The refused version of one record, to read and copy from: what the server refused, then every
 * piece of free text the version holds, each with a copy button so nothing typed is lost. Dismiss
 * asks first; nothing here dismisses by itself.
 */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun QuarantinedRecordScreen(vm: QuarantinedRecordViewModel, onBack: () -> Unit, onNavigate: (String) -> Unit) {
    val state by vm.state.collectAsStateWithLifecycle()
    val context = LocalContext.current
    var confirming by remember { mutableStateOf(false) }
    val item = state.item
    val copy = { label: String, text: String -> copyToClipboard(context, label, text) }

    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text("Refused by the server") },
                navigationIcon = { IconButton(onClick = onBack) { Icon(Icons.AutoMirrored.Filled.ArrowBack, "Back") } },
            )
        },
        bottomBar = {
            if (item != null) {
                BottomAppBar {
                    Row(Modifier.fillMaxWidth().padding(horizontal = 16.dp), horizontalArrangement = Arrangement.spacedBy(12.dp)) {
                        // A removed record has no live version to open: its text goes into a new one.
                        if (!item.removed) {
                            OutlinedButton(onClick = { onNavigate(editorRoute(item.kind, item.recordId)) }, enabled = !state.busy) {
                                Text("Open the record")
                            }
                        }
                        Button(
                            onClick = { confirming = true },
                            enabled = !state.busy,
                            colors = ButtonDefaults.buttonColors(
                                containerColor = MaterialTheme.colorScheme.error,
                                contentColor = MaterialTheme.colorScheme.onError,
                            ),
                        ) { Text("Dismiss") }
                    }
                }
            }
        },
    ) { padding ->
        Column(
            Modifier.padding(padding).fillMaxSize().verticalScroll(rememberScrollState()).padding(16.dp),
            verticalArrangement = Arrangement.spacedBy(8.dp),
        ) {
            if (state.busy) LinearProgressIndicator(Modifier.fillMaxWidth())
            state.message?.let { Text(it, color = MaterialTheme.colorScheme.error) }
            if (item != null) {
                Text(item.kind.label(), style = MaterialTheme.typography.titleLarge)
                Text("Refused ${item.at.display()} [${item.rule}]", style = MaterialTheme.typography.bodySmall)
                Text(item.reason)
                item.field?.let { Text("About: ${fieldLabel(it)}", style = MaterialTheme.typography.bodySmall) }
                QuarantineNotes(item)
                if (item.refused.isNotEmpty()) {
                    Section(if (item.removed) "What you typed" else "What the server refused") {
                        item.refused.forEach { diff ->
                            RefusedField(diff, showKept = !item.removed) { copy(fieldLabel(diff.field), it) }
                            HorizontalDivider()
                        }
                    }
                }
            }
            val record = state.record
            if (item != null && record != null) {
                RefusedText(record, item, copy)
            }
        }
    }

    if (confirming) {
        AlertDialog(
            onDismissRequest = { confirming = false },
            title = { Text("Dismiss this refused version?") },
            text = {
                Text(
                    "It is deleted from this phone and cannot be read again; the server never had it. " +
                        "Copy anything you still need first.",
                )
            },
            confirmButton = {
                TextButton(onClick = {
                    confirming = false
                    vm.dismiss(onBack)
                }) { Text("I have copied what I need") }
            },
            dismissButton = { TextButton(onClick = { confirming = false }) { Text("Cancel") } },
        )
    }
}

/** Every piece of free text in the refused version, marking what the record no longer holds. */
@Composable
private fun RefusedText(record: Record, item: QuarantineItem, copy: (String, String) -> Unit) {
    val texts = record.typedTexts()
    Section("The refused version, as you typed it") {
        if (texts.isEmpty()) {
            Text("It holds no free text.", style = MaterialTheme.typography.bodySmall)
        } else {
            OutlinedButton(onClick = {
                copy("Refused ${item.kind.label()}", texts.joinToString("\n\n") { "${it.label}:\n${it.text}" })
            }) { Text("Copy all text") }
        }
        texts.forEach { typed ->
            val refused = item.refused.any { isWithin(typed.path, it.field) || isWithin(it.field, typed.path) }
            Card(
                colors = CardDefaults.cardColors(
                    containerColor = if (refused) MaterialTheme.colorScheme.errorContainer else MaterialTheme.colorScheme.surfaceVariant,
                ),
                modifier = Modifier.fillMaxWidth(),
            ) {
                Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
                    Row(verticalAlignment = Alignment.CenterVertically) {
                        Column(Modifier.weight(1f)) {
                            Text(typed.label, style = MaterialTheme.typography.labelLarge)
                            if (refused) {
                                Text(
                                    if (item.removed) "Only on this phone" else "Not on the record now",
                                    style = MaterialTheme.typography.labelSmall,
                                    color = MaterialTheme.colorScheme.error,
                                )
                            }
                        }
                        TextButton(onClick = { copy(typed.label, typed.text) }) { Text("Copy") }
                    }
                    Text(typed.text)
                }
            }
        }
    }
}
