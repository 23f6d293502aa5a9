package org.fieldbook.app.ui.review

import android.content.Context
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
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
import org.fieldbook.app.sync.SyncWork
import org.fieldbook.app.ui.FindingLine
import org.fieldbook.app.ui.StatusChip
import org.fieldbook.app.ui.display
import org.fieldbook.app.ui.editorRoute
import org.fieldbook.app.ui.label
import org.fieldbook.app.userMessage
import org.fieldbook.core.FieldbookRepository
import org.fieldbook.ffi.ApprovalState
import org.fieldbook.ffi.FieldbookException
import org.fieldbook.ffi.QueueItem

class ReviewQueueViewModel(private val repository: FieldbookRepository, private val appContext: Context) : ViewModel() {
    private val items = MutableStateFlow<List<QueueItem>>(emptyList())
    private val messages = MutableStateFlow<String?>(null)
    val queue: StateFlow<List<QueueItem>> = items.asStateFlow()
    val message: StateFlow<String?> = messages.asStateFlow()

    fun load() = act { items.value = repository.reviewQueue() }

    fun approve(id: String) = act {
        repository.approve(id)
        SyncWork.syncSoon(appContext)
        items.value = repository.reviewQueue()
    }

    fun returnToAuthor(id: String, reason: String) = act {
        repository.returnToAuthor(id, reason)
        SyncWork.syncSoon(appContext)
        items.value = repository.reviewQueue()
    }

    private fun act(block: suspend () -> Unit) = viewModelScope.launch {
        messages.value = null
        try {
            block()
        } catch (e: FieldbookException) {
            messages.value = e.userMessage()
        }
    }
}

/**
 * The team's submitted records, oldest first, with what the core found, how long each has
 * waited and, for a record changed after approval, what changed. Whether a record may be
 * approved is the core's answer (`canApprove`, `blockedBecause`).
 */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun ReviewQueueScreen(vm: ReviewQueueViewModel, onNavigate: (String) -> Unit) {
    val queue by vm.queue.collectAsStateWithLifecycle()
    val message by vm.message.collectAsStateWithLifecycle()
    var returning by remember { mutableStateOf<QueueItem?>(null) }
    LaunchedEffect(Unit) { vm.load() }

    Scaffold(topBar = { TopAppBar(title = { Text("Review queue") }) }) { padding ->
        Column(Modifier.padding(padding).fillMaxSize()) {
            message?.let { Text(it, Modifier.padding(16.dp), color = MaterialTheme.colorScheme.error) }
            if (queue.isEmpty()) Text("Nothing waiting for review.", Modifier.padding(16.dp))
            LazyColumn(verticalArrangement = Arrangement.spacedBy(8.dp), modifier = Modifier.padding(horizontal = 16.dp)) {
                items(queue, key = { it.id }) { item ->
                    QueueCard(
                        item,
                        onOpen = { onNavigate(editorRoute(item.kind, item.id)) },
                        onApprove = { vm.approve(item.id) },
                        onReturn = { returning = item },
                    )
                }
            }
        }
    }

    returning?.let { item ->
        var reason by remember(item.id) { mutableStateOf("") }
        AlertDialog(
            onDismissRequest = { returning = null },
            title = { Text("Return to ${item.author}") },
            text = {
                OutlinedTextField(reason, { reason = it }, label = { Text("What to change") }, minLines = 3, modifier = Modifier.fillMaxWidth())
            },
            confirmButton = {
                TextButton(onClick = {
                    vm.returnToAuthor(item.id, reason)
                    returning = null
                }) { Text("Return") }
            },
            dismissButton = { TextButton(onClick = { returning = null }) { Text("Cancel") } },
        )
    }
}

@Composable
private fun QueueCard(item: QueueItem, onOpen: () -> Unit, onApprove: () -> Unit, onReturn: () -> Unit) {
    Card(Modifier.fillMaxWidth()) {
        Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(6.dp)) {
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                Text("${item.kind.label()} by ${item.author}", style = MaterialTheme.typography.titleSmall, modifier = Modifier.weight(1f))
                StatusChip(item.status)
            }
            Text(
                "Reported ${item.reportedAt.display()}, waiting ${item.waiting.display()}" +
                    (item.submittedAt?.let { "; submitted ${it.display()}" } ?: ""),
                style = MaterialTheme.typography.bodySmall,
            )
            when (val approval = item.approval) {
                is ApprovalState.NotApproved -> Unit
                is ApprovalState.Approved -> Text("Approved by ${approval.by}, ${approval.at.display()}", style = MaterialTheme.typography.bodySmall)
                is ApprovalState.ChangedSinceApproval -> {
                    Text("Changed since ${approval.by} approved it (${approval.at.display()}):", style = MaterialTheme.typography.labelLarge)
                    approval.changedFields.forEach {
                        Text("${it.field}: ${it.oldJson} → ${it.newJson}", style = MaterialTheme.typography.bodySmall)
                    }
                }
            }
            item.findings.forEach { FindingLine(it.copy(message = "${it.field}: ${it.message}")) }
            item.blockedBecause?.let { Text(it, color = MaterialTheme.colorScheme.error, style = MaterialTheme.typography.bodySmall) }
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                OutlinedButton(onClick = onOpen) { Text("Open") }
                OutlinedButton(onClick = onReturn) { Text("Return…") }
                Button(onClick = onApprove, enabled = item.canApprove) { Text("Approve") }
            }
        }
    }
}
