package org.fieldbook.app.ui

import android.content.Context
import androidx.activity.compose.BackHandler
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.ColumnScope
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.automirrored.filled.ArrowBack
import androidx.compose.material3.BottomAppBar
import androidx.compose.material3.Button
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.ViewModel
import androidx.lifecycle.viewModelScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import org.fieldbook.app.outside
import org.fieldbook.app.sync.SyncWork
import org.fieldbook.app.userMessage
import org.fieldbook.core.FieldbookRepository
import org.fieldbook.ffi.FieldbookException
import org.fieldbook.ffi.Finding
import org.fieldbook.ffi.Record

/** What an editing screen shows. [value] is the officer's working copy of the record. */
data class EditorState<T>(
    val value: T? = null,
    val version: String? = null,
    val dirty: Boolean = false,
    val findings: List<Finding> = emptyList(),
    val message: String? = null,
    val busy: Boolean = false,
)

/**
 * Load, edit, save and submit one record. The record is read with its version and saved with
 * `saveVersioned`, so changes a background sync merges in while the officer types are kept
 * beside theirs rather than written over. After every save the screen shows `check`'s findings.
 */
abstract class RecordEditorViewModel<T : Any>(
    protected val repository: FieldbookRepository,
    val id: String,
    private val appContext: Context,
) : ViewModel() {
    protected abstract fun unwrap(record: Record): T
    protected abstract fun wrap(value: T): Record

    private val mutableState = MutableStateFlow(EditorState<T>())
    val state: StateFlow<EditorState<T>> = mutableState.asStateFlow()

    init {
        call { reload() }
    }

    fun edit(change: (T) -> T) = mutableState.update { s ->
        s.value?.let { s.copy(value = change(it), dirty = true) } ?: s
    }

    fun save(then: () -> Unit = {}) = call {
        persist()
        then()
    }

    fun submit(then: () -> Unit = {}) = call {
        persist()
        repository.submit(id)
        SyncWork.syncSoon(appContext)
        reload()
        then()
    }

    /** Runs [block] with the busy flag, showing any core error next to its fields or as a message. */
    protected fun call(block: suspend () -> Unit) {
        viewModelScope.launch {
            mutableState.update { it.copy(busy = true, message = null) }
            try {
                block()
            } catch (e: FieldbookException) {
                // Show what is stored now; if even that fails, the message below still stands.
                if (e is FieldbookException.Stale) runCatching { reload() }
                mutableState.update {
                    it.copy(message = e.userMessage(), findings = (e as? FieldbookException.Validation)?.findings ?: it.findings)
                }
            } finally {
                mutableState.update { it.copy(busy = false) }
            }
        }
    }

    /** Saves the working copy if it changed, then reads back what is stored. */
    protected suspend fun persist() {
        val s = mutableState.value
        val value = s.value ?: return
        val version = s.version ?: return
        if (!s.dirty) return
        repository.saveVersioned(wrap(value), version)
        reload()
    }

    protected suspend fun reload() {
        val versioned = repository.getVersioned(id)
        val findings = repository.check(id)
        mutableState.update {
            it.copy(value = unwrap(versioned.record), version = versioned.version, dirty = false, findings = findings)
        }
    }
}

/**
 * The frame of every editing screen: title, findings no field shows, the fields, and
 * Save / Submit. Leaving with unsaved changes saves them first.
 */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun EditorScaffold(
    title: String,
    state: EditorState<*>,
    shownPaths: List<String>,
    onSave: (then: () -> Unit) -> Unit,
    onSubmit: ((then: () -> Unit) -> Unit)?,
    onBack: () -> Unit,
    actions: @Composable ColumnScope.() -> Unit = {},
    content: @Composable ColumnScope.() -> Unit,
) {
    val leave = { if (state.dirty) onSave(onBack) else onBack() }
    BackHandler(onBack = leave)
    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text(title) },
                navigationIcon = {
                    IconButton(onClick = leave) { Icon(Icons.AutoMirrored.Filled.ArrowBack, "Back") }
                },
            )
        },
        bottomBar = {
            BottomAppBar {
                Row(Modifier.fillMaxWidth().padding(horizontal = 16.dp), horizontalArrangement = Arrangement.spacedBy(12.dp)) {
                    OutlinedButton(onClick = { onSave {} }, enabled = !state.busy && state.dirty) { Text("Save") }
                    if (onSubmit != null) {
                        Button(onClick = { onSubmit(onBack) }, enabled = !state.busy) { Text("Submit for review") }
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
            state.message?.let { Text(it, color = MaterialTheme.colorScheme.primary) }
            FindingsSummary(state.findings.outside(shownPaths))
            if (state.value != null) {
                actions()
                content()
            }
        }
    }
}
