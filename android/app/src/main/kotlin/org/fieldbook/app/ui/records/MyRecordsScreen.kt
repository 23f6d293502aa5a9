package org.fieldbook.app.ui.records

import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.Add
import androidx.compose.material.icons.filled.Refresh
import androidx.compose.material.icons.filled.Warning
import androidx.compose.material3.Badge
import androidx.compose.material3.BadgedBox
import androidx.compose.material3.DropdownMenu
import androidx.compose.material3.DropdownMenuItem
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.ExtendedFloatingActionButton
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.ListItem
import androidx.compose.material3.ListItemDefaults
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
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
import org.fieldbook.app.sync.SyncWork
import org.fieldbook.app.ui.StatusChip
import org.fieldbook.app.ui.SyncBar
import org.fieldbook.app.ui.display
import org.fieldbook.app.ui.editorRoute
import org.fieldbook.app.ui.label
import org.fieldbook.app.userMessage
import org.fieldbook.core.FieldbookRepository
import org.fieldbook.core.SyncState
import org.fieldbook.ffi.FieldbookException
import org.fieldbook.ffi.Record
import org.fieldbook.ffi.RecordKind
import org.fieldbook.ffi.RecordSummary
import org.fieldbook.ffi.SyncStatus

class MyRecordsViewModel(private val repository: FieldbookRepository, private val app: FieldbookApp) : ViewModel() {
    private val rows = MutableStateFlow<List<RecordSummary>>(emptyList())
    private val status = MutableStateFlow<SyncStatus?>(null)
    private val messages = MutableStateFlow<String?>(null)
    val records: StateFlow<List<RecordSummary>> = rows.asStateFlow()
    val syncStatus: StateFlow<SyncStatus?> = status.asStateFlow()
    val message: StateFlow<String?> = messages.asStateFlow()
    val syncState: StateFlow<SyncState> = repository.syncState

    init {
        // A finished sync may have merged team changes or returns into these records.
        viewModelScope.launch { repository.syncState.collect { if (it !is SyncState.Running) load() } }
    }

    fun load() = viewModelScope.launch {
        try {
            // Person records are opened from the record that names them, not listed.
            rows.value = repository.myRecords().filter { it.kind != RecordKind.PERSON }
            status.value = repository.syncStatus()
        } catch (e: FieldbookException) {
            messages.value = e.userMessage()
        }
    }

    fun create(kind: RecordKind, open: (String) -> Unit) = viewModelScope.launch {
        try {
            open(editorRoute(kind, repository.create(kind).id()))
        } catch (e: FieldbookException) {
            messages.value = e.userMessage()
        }
    }

    fun syncNow() = SyncWork.syncSoon(app)

    fun enrolAgain() = app.requireEnrolment()
}

private fun Record.id(): String = when (this) {
    is Record.Crime -> value.meta.id
    is Record.Vna -> value.meta.id
    is Record.StopSearch -> value.meta.id
    is Record.Issue -> value.meta.id
    is Record.Person -> value.meta.id
}

@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun MyRecordsScreen(vm: MyRecordsViewModel, onNavigate: (String) -> Unit) {
    val records by vm.records.collectAsStateWithLifecycle()
    val syncState by vm.syncState.collectAsStateWithLifecycle()
    val status by vm.syncStatus.collectAsStateWithLifecycle()
    val message by vm.message.collectAsStateWithLifecycle()
    var choosing by remember { mutableStateOf(false) }
    LaunchedEffect(Unit) { vm.load() }

    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text("My records") },
                actions = { IconButton(onClick = vm::syncNow) { Icon(Icons.Default.Refresh, "Sync now") } },
            )
        },
        floatingActionButton = {
            Box {
                ExtendedFloatingActionButton(onClick = { choosing = true }, icon = { Icon(Icons.Default.Add, null) }, text = { Text("New") })
                // Every kind is offered; the core refuses what this role may not create.
                DropdownMenu(expanded = choosing, onDismissRequest = { choosing = false }) {
                    listOf(RecordKind.CRIME_REPORT, RecordKind.STOP_SEARCH, RecordKind.NEIGHBOURHOOD_ISSUE).forEach { kind ->
                        DropdownMenuItem(text = { Text(kind.label()) }, onClick = {
                            choosing = false
                            vm.create(kind, onNavigate)
                        })
                    }
                }
            }
        },
    ) { padding ->
        Column(Modifier.padding(padding).fillMaxSize()) {
            SyncBar(syncState, status)
            // Codes the store keeps from the last failed sync, also one that ran in the background.
            if (status?.lastError in setOf("unauthenticated", "token-expired", "not-enrolled")) {
                TextButton(onClick = vm::enrolAgain, modifier = Modifier.padding(horizontal = 8.dp)) { Text("Enrol this phone again") }
            }
            // Refused changes kept on the phone: shown until the officer has dismissed every one.
            status?.quarantined?.takeIf { it > 0uL }?.let { count -> QuarantineEntry(count) { onNavigate("quarantine") } }
            message?.let { Text(it, Modifier.padding(16.dp), color = MaterialTheme.colorScheme.error) }
            LazyColumn {
                items(records, key = { it.id }) { row ->
                    RecordRow(row, Modifier.clickable { onNavigate(editorRoute(row.kind, row.id)) })
                    HorizontalDivider()
                }
            }
        }
    }
}

@OptIn(ExperimentalMaterial3Api::class)
@Composable
private fun QuarantineEntry(count: ULong, onOpen: () -> Unit) {
    ListItem(
        modifier = Modifier.clickable(onClick = onOpen),
        colors = ListItemDefaults.colors(containerColor = MaterialTheme.colorScheme.errorContainer),
        leadingContent = { BadgedBox(badge = { Badge { Text("$count") } }) { Icon(Icons.Default.Warning, null) } },
        headlineContent = { Text("Refused by the server") },
        supportingContent = { Text("What you typed is kept here until you have copied what you need and dismissed it.") },
    )
    HorizontalDivider()
}

@Composable
private fun RecordRow(row: RecordSummary, modifier: Modifier) {
    val notes = buildList {
        row.decisionDueAt?.let { add("Recording decision due ${it.display()}") }
        if (row.receiptNeeded) add("Receipt needed")
        if (row.conflicts > 0u) add("${row.conflicts} conflict(s) to resolve")
        if (row.flags.isNotEmpty()) add(row.flags.joinToString { it.replace('_', ' ') })
    }
    ListItem(
        modifier = modifier,
        headlineContent = { Text(listOfNotNull(row.kind.label(), row.classification).joinToString(" · ")) },
        supportingContent = {
            Column {
                Text((row.eventAt ?: row.createdAt).display())
                notes.forEach { Text(it, style = MaterialTheme.typography.bodySmall, color = MaterialTheme.colorScheme.tertiary) }
            }
        },
        trailingContent = { Row(horizontalArrangement = Arrangement.spacedBy(4.dp)) { StatusChip(row.status) } },
    )
}
