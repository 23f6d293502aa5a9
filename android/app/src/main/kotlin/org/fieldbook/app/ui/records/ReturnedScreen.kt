package org.fieldbook.app.ui.records

import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.ListItem
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.ViewModel
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.viewModelScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch
import org.fieldbook.app.ui.display
import org.fieldbook.app.ui.editorRoute
import org.fieldbook.app.ui.label
import org.fieldbook.app.userMessage
import org.fieldbook.core.FieldbookRepository
import org.fieldbook.ffi.FieldbookException
import org.fieldbook.ffi.ReturnedItem

class ReturnedViewModel(private val repository: FieldbookRepository) : ViewModel() {
    private val items = MutableStateFlow<List<ReturnedItem>>(emptyList())
    private val messages = MutableStateFlow<String?>(null)
    val returned: StateFlow<List<ReturnedItem>> = items.asStateFlow()
    val message: StateFlow<String?> = messages.asStateFlow()

    fun load() = viewModelScope.launch {
        try {
            items.value = repository.returnedToMe()
        } catch (e: FieldbookException) {
            messages.value = e.userMessage()
        }
    }
}

/** Records a supervisor sent back, each with what to change: the officer's task list. */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun ReturnedScreen(vm: ReturnedViewModel, onNavigate: (String) -> Unit) {
    val returned by vm.returned.collectAsStateWithLifecycle()
    val message by vm.message.collectAsStateWithLifecycle()
    LaunchedEffect(Unit) { vm.load() }

    Scaffold(topBar = { TopAppBar(title = { Text("Returned to me") }) }) { padding ->
        Column(Modifier.padding(padding).fillMaxSize()) {
            message?.let { Text(it, Modifier.padding(16.dp), color = MaterialTheme.colorScheme.error) }
            if (returned.isEmpty()) Text("Nothing returned.", Modifier.padding(16.dp))
            LazyColumn {
                items(returned, key = { it.id }) { item ->
                    ListItem(
                        modifier = Modifier.clickable { onNavigate(editorRoute(item.kind, item.id)) },
                        headlineContent = { Text(item.kind.label()) },
                        supportingContent = {
                            Column {
                                Text("Returned by ${item.by}, ${item.at.display()}", style = MaterialTheme.typography.bodySmall)
                                Text(item.reason)
                            }
                        },
                    )
                    HorizontalDivider()
                }
            }
        }
    }
}
