package org.fieldbook.app.ui

import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import org.fieldbook.app.userMessage
import org.fieldbook.core.SyncState
import org.fieldbook.ffi.SyncPhase
import org.fieldbook.ffi.SyncStatus

/** One line on where this phone stands with the server, so officers know what is safe. */
@Composable
fun SyncBar(state: SyncState, status: SyncStatus?) {
    Column(Modifier.fillMaxWidth().padding(horizontal = 16.dp, vertical = 4.dp)) {
        when (state) {
            is SyncState.Running -> {
                val phase = when (state.phase) {
                    SyncPhase.PUSHING -> "Sending ${state.pushedRecords} of ${state.outboxRecords}"
                    SyncPhase.PULLING -> "Receiving (${state.pulledRecords})"
                    SyncPhase.REPAIRING -> "Repairing records"
                    SyncPhase.DONE -> "Finishing"
                }
                Text("Syncing: $phase", style = MaterialTheme.typography.bodySmall)
                LinearProgressIndicator(Modifier.fillMaxWidth())
            }
            is SyncState.Failed -> Text(state.error.userMessage(), style = MaterialTheme.typography.bodySmall, color = MaterialTheme.colorScheme.error)
            is SyncState.Idle -> Unit
        }
        if (status != null) {
            val last = status.lastSyncAt?.let { "last sync ${it.display()}" } ?: "never synced"
            val unsynced = if (status.unsynced == 0uL) "everything sent" else "${status.unsynced} record(s) not yet sent"
            Text("$unsynced; $last", style = MaterialTheme.typography.bodySmall)
            status.attention.forEach {
                Text("${it.kind.label()} refused by the server: ${it.message}", style = MaterialTheme.typography.bodySmall, color = MaterialTheme.colorScheme.error)
            }
        }
    }
}
