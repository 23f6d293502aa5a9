package org.fieldbook.app.ui.quarantine

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.PaddingValues
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.automirrored.filled.ArrowBack
import androidx.compose.material3.Card
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.text.style.TextOverflow
import androidx.compose.ui.unit.dp
import androidx.lifecycle.ViewModel
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.viewModelScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch
import org.fieldbook.app.quarantine
import org.fieldbook.app.ui.display
import org.fieldbook.app.ui.label
import org.fieldbook.app.userMessage
import org.fieldbook.core.FieldbookRepository
import org.fieldbook.core.SyncState
import org.fieldbook.ffi.FieldDiff
import org.fieldbook.ffi.FieldbookException
import org.fieldbook.ffi.QuarantineItem

/** The route of one kept refused state (see `FieldbookNavHost`). */
fun quarantinedRoute(item: QuarantineItem): String = "quarantine/${item.recordId}/${item.id}"

class QuarantineViewModel(private val repository: FieldbookRepository) : ViewModel() {
    private val items = MutableStateFlow<List<QuarantineItem>>(emptyList())
    private val messages = MutableStateFlow<String?>(null)
    val quarantine: StateFlow<List<QuarantineItem>> = items.asStateFlow()
    val message: StateFlow<String?> = messages.asStateFlow()

    init {
        // A finished sync may have kept more refused states.
        viewModelScope.launch { repository.syncState.collect { if (it !is SyncState.Running) load() } }
    }

    fun load() = viewModelScope.launch {
        try {
            items.value = repository.quarantine()
            messages.value = null
        } catch (e: FieldbookException) {
            messages.value = e.userMessage()
        }
    }
}

/**
 * What the server refused and this phone kept, oldest first. The live record was rebuilt from
 * the server's version with what the rules allowed; each item holds what the officer typed that
 * the record no longer has. Items leave only when the officer dismisses them (on the detail).
 */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun QuarantineScreen(vm: QuarantineViewModel, onBack: () -> Unit, onNavigate: (String) -> Unit) {
    val quarantine by vm.quarantine.collectAsStateWithLifecycle()
    val message by vm.message.collectAsStateWithLifecycle()
    LaunchedEffect(Unit) { vm.load() }

    Scaffold(topBar = {
        TopAppBar(
            title = { Text("Refused by the server") },
            navigationIcon = { IconButton(onClick = onBack) { Icon(Icons.AutoMirrored.Filled.ArrowBack, "Back") } },
        )
    }) { padding ->
        Column(Modifier.padding(padding).fillMaxSize()) {
            message?.let { Text(it, Modifier.padding(16.dp), color = MaterialTheme.colorScheme.error) }
            if (quarantine.isEmpty()) {
                Text("Nothing refused.", Modifier.padding(16.dp))
            } else {
                Text(
                    "The server refused these changes. Your records now hold the server's version with what the rules allow; " +
                        "what you typed beyond that is kept here. Open each one, copy what you still need, then dismiss it.",
                    Modifier.padding(horizontal = 16.dp, vertical = 8.dp),
                    style = MaterialTheme.typography.bodySmall,
                )
            }
            LazyColumn(
                contentPadding = PaddingValues(16.dp),
                verticalArrangement = Arrangement.spacedBy(12.dp),
            ) {
                items(quarantine, key = { it.id.toString() }) { item ->
                    QuarantineCard(item) { onNavigate(quarantinedRoute(item)) }
                }
            }
        }
    }
}

private const val SHOWN_IN_LIST = 3

@OptIn(ExperimentalMaterial3Api::class)
@Composable
private fun QuarantineCard(item: QuarantineItem, onOpen: () -> Unit) {
    Card(onClick = onOpen, modifier = Modifier.fillMaxWidth()) {
        Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(6.dp)) {
            Text(item.kind.label(), style = MaterialTheme.typography.titleMedium)
            Text("Refused ${item.at.display()}", style = MaterialTheme.typography.bodySmall)
            Text(item.reason)
            item.field?.let { Text("About: ${fieldLabel(it)}", style = MaterialTheme.typography.bodySmall) }
            QuarantineNotes(item)
            item.refused.take(SHOWN_IN_LIST).forEach { RefusedField(it, showKept = !item.removed, maxLines = 3) }
            if (item.refused.size > SHOWN_IN_LIST) {
                Text("and ${item.refused.size - SHOWN_IN_LIST} more field(s)", style = MaterialTheme.typography.bodySmall)
            }
            Row(Modifier.fillMaxWidth(), horizontalArrangement = Arrangement.SpaceBetween, verticalAlignment = Alignment.CenterVertically) {
                // The rule's code, for a support call; the reason above is the officer's.
                Text(item.rule, style = MaterialTheme.typography.labelSmall, color = MaterialTheme.colorScheme.onSurfaceVariant)
                TextButton(onClick = onOpen) { Text("Open") }
            }
        }
    }
}

/** What became of the record, in one or two sentences. */
@Composable
fun QuarantineNotes(item: QuarantineItem) {
    when {
        item.removed -> Text(
            "The server never held this record: it is only on this phone now. Copy what you need into a new record before you dismiss it.",
            color = MaterialTheme.colorScheme.error,
            style = MaterialTheme.typography.bodySmall,
        )
        item.refused.isEmpty() -> Text(
            "Everything you typed was put back on the record.",
            style = MaterialTheme.typography.bodySmall,
        )
    }
    // Workflow steps are never re-applied: a refused submission has to be made again.
    if (!item.removed && item.refused.any { isWithin(it.field, "meta.workflow") }) {
        Text(
            "A workflow step (submit, approve or return) was refused: open the record and do it again if it is still needed.",
            style = MaterialTheme.typography.bodySmall,
            color = MaterialTheme.colorScheme.tertiary,
        )
    }
}

/** One refused field: what the officer typed against what the record keeps now. */
@Composable
fun RefusedField(
    diff: FieldDiff,
    showKept: Boolean,
    maxLines: Int = Int.MAX_VALUE,
    onCopy: ((String) -> Unit)? = null,
) {
    val typed = readableJson(diff.newJson)
    val kept = readableJson(diff.oldJson)
    Column(Modifier.fillMaxWidth(), verticalArrangement = Arrangement.spacedBy(2.dp)) {
        Text(fieldLabel(diff.field), style = MaterialTheme.typography.labelLarge)
        Text("You typed", style = MaterialTheme.typography.labelSmall, color = MaterialTheme.colorScheme.error)
        Text(typed.ifBlank { "(nothing)" }, maxLines = maxLines, overflow = TextOverflow.Ellipsis)
        if (showKept) {
            Text("Kept", style = MaterialTheme.typography.labelSmall, color = MaterialTheme.colorScheme.primary)
            Text(kept.ifBlank { "(nothing)" }, maxLines = maxLines, overflow = TextOverflow.Ellipsis)
        }
        if (onCopy != null && typed.isNotBlank()) {
            TextButton(onClick = { onCopy(typed) }) { Text("Copy what you typed") }
        }
    }
}
