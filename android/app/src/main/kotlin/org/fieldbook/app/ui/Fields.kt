package org.fieldbook.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.ColumnScope
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Card
import androidx.compose.material3.CardDefaults
import androidx.compose.material3.DatePicker
import androidx.compose.material3.DatePickerDialog
import androidx.compose.material3.DropdownMenuItem
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.ExposedDropdownMenuBox
import androidx.compose.material3.ExposedDropdownMenuDefaults
import androidx.compose.material3.FilterChip
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.MenuAnchorType
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Switch
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.TimePicker
import androidx.compose.material3.rememberDatePickerState
import androidx.compose.material3.rememberTimePickerState
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import java.time.Instant
import java.time.LocalDate
import java.time.LocalTime
import java.time.ZoneId
import java.time.ZoneOffset
import org.fieldbook.app.at
import org.fieldbook.ffi.Finding
import org.fieldbook.ffi.Severity

// Form fields that show the core's findings for their field path underneath them. The screens
// never decide what is valid: they show what `check`, `save` and `submit` report.

@Composable
fun Section(title: String, content: @Composable ColumnScope.() -> Unit) {
    Column(Modifier.fillMaxWidth().padding(vertical = 8.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Text(title, style = MaterialTheme.typography.titleMedium)
        content()
    }
}

@Composable
fun FindingLines(findings: List<Finding>, path: String) {
    findings.at(path).forEach { FindingLine(it) }
}

@Composable
fun FindingLine(finding: Finding) {
    Text(
        finding.message,
        style = MaterialTheme.typography.bodySmall,
        color = if (finding.severity == Severity.ERROR) MaterialTheme.colorScheme.error else MaterialTheme.colorScheme.tertiary,
    )
}

/** Findings no field on the screen shows, so none is ever hidden. */
@Composable
fun FindingsSummary(findings: List<Finding>) {
    if (findings.isEmpty()) return
    Card(
        colors = CardDefaults.cardColors(containerColor = MaterialTheme.colorScheme.errorContainer),
        modifier = Modifier.fillMaxWidth(),
    ) {
        Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
            findings.forEach { Text("${it.field}: ${it.message}", style = MaterialTheme.typography.bodySmall) }
        }
    }
}

@Composable
fun RecordTextField(
    label: String,
    value: String?,
    onChange: (String) -> Unit,
    findings: List<Finding>,
    path: String,
    enabled: Boolean = true,
    minLines: Int = 1,
) {
    val here = findings.at(path)
    OutlinedTextField(
        value = value.orEmpty(),
        onValueChange = onChange,
        label = { Text(label) },
        enabled = enabled,
        singleLine = minLines == 1,
        minLines = minLines,
        isError = here.any { it.severity == Severity.ERROR },
        supportingText = if (here.isEmpty()) null else {
            { Column { here.forEach { Text(it.message) } } }
        },
        modifier = Modifier.fillMaxWidth(),
    )
}

/** A choice from reference data: [options] are (stored value, shown label) pairs. */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun ChoiceField(
    label: String,
    options: List<Pair<String, String>>,
    selected: String?,
    onSelect: (String) -> Unit,
    findings: List<Finding>,
    path: String,
    enabled: Boolean = true,
) {
    var expanded by remember { mutableStateOf(false) }
    val here = findings.at(path)
    ExposedDropdownMenuBox(expanded = expanded, onExpandedChange = { expanded = enabled && it }) {
        OutlinedTextField(
            value = options.firstOrNull { it.first == selected }?.second ?: selected.orEmpty(),
            onValueChange = {},
            readOnly = true,
            enabled = enabled,
            label = { Text(label) },
            isError = here.any { it.severity == Severity.ERROR },
            supportingText = if (here.isEmpty()) null else {
                { Column { here.forEach { Text(it.message) } } }
            },
            trailingIcon = { ExposedDropdownMenuDefaults.TrailingIcon(expanded) },
            modifier = Modifier.menuAnchor(MenuAnchorType.PrimaryNotEditable).fillMaxWidth(),
        )
        ExposedDropdownMenu(expanded = expanded, onDismissRequest = { expanded = false }) {
            options.forEach { (value, text) ->
                DropdownMenuItem(text = { Text(text) }, onClick = {
                    expanded = false
                    onSelect(value)
                })
            }
        }
    }
}

/** A yes/no question that may still be unanswered (the record holds `Boolean?`). */
@Composable
fun YesNoField(
    label: String,
    value: Boolean?,
    onChange: (Boolean) -> Unit,
    findings: List<Finding>,
    path: String,
    enabled: Boolean = true,
) {
    Column(Modifier.fillMaxWidth()) {
        Row(verticalAlignment = Alignment.CenterVertically, horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            Text(label, Modifier.weight(1f))
            FilterChip(selected = value == true, onClick = { onChange(true) }, label = { Text("Yes") }, enabled = enabled)
            FilterChip(selected = value == false, onClick = { onChange(false) }, label = { Text("No") }, enabled = enabled)
        }
        FindingLines(findings, path)
    }
}

@Composable
fun SwitchField(label: String, checked: Boolean, onChange: (Boolean) -> Unit, enabled: Boolean = true) {
    Row(Modifier.fillMaxWidth(), verticalAlignment = Alignment.CenterVertically) {
        Text(label, Modifier.weight(1f))
        Switch(checked = checked, onCheckedChange = onChange, enabled = enabled)
    }
}

/** A time: "Now" for the common case at the scene, or a date and time picked by hand. */
@Composable
fun TimeField(
    label: String,
    value: Instant?,
    onChange: (Instant) -> Unit,
    findings: List<Finding>,
    path: String,
    enabled: Boolean = true,
) {
    var picking by remember { mutableStateOf(false) }
    Column(Modifier.fillMaxWidth()) {
        Row(verticalAlignment = Alignment.CenterVertically) {
            Column(Modifier.weight(1f)) {
                Text(label, style = MaterialTheme.typography.labelMedium)
                Text(value?.display() ?: "Not recorded")
            }
            TextButton(onClick = { onChange(Instant.now()) }, enabled = enabled) { Text("Now") }
            TextButton(onClick = { picking = true }, enabled = enabled) { Text("Set") }
        }
        FindingLines(findings, path)
    }
    if (picking) {
        DateTimeDialog(initial = value ?: Instant.now(), onDismiss = { picking = false }, onPicked = {
            picking = false
            onChange(it)
        })
    }
}

@OptIn(ExperimentalMaterial3Api::class)
@Composable
private fun DateTimeDialog(initial: Instant, onDismiss: () -> Unit, onPicked: (Instant) -> Unit) {
    val zone = ZoneId.systemDefault()
    val start = initial.atZone(zone)
    // The date picker works in UTC midnights; the time picker in local hours.
    val dateState = rememberDatePickerState(
        initialSelectedDateMillis = start.toLocalDate().atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli(),
    )
    val timeState = rememberTimePickerState(initialHour = start.hour, initialMinute = start.minute, is24Hour = true)
    var date by remember { mutableStateOf<LocalDate?>(null) }
    val chosen = date
    if (chosen == null) {
        DatePickerDialog(
            onDismissRequest = onDismiss,
            confirmButton = {
                TextButton(onClick = {
                    date = dateState.selectedDateMillis?.let { Instant.ofEpochMilli(it).atZone(ZoneOffset.UTC).toLocalDate() }
                }) { Text("Next") }
            },
            dismissButton = { TextButton(onClick = onDismiss) { Text("Cancel") } },
        ) { DatePicker(state = dateState) }
    } else {
        AlertDialog(
            onDismissRequest = onDismiss,
            confirmButton = {
                TextButton(onClick = {
                    onPicked(chosen.atTime(LocalTime.of(timeState.hour, timeState.minute)).atZone(zone).toInstant())
                }) { Text("Set") }
            },
            dismissButton = { TextButton(onClick = onDismiss) { Text("Cancel") } },
            text = { TimePicker(state = timeState) },
        )
    }
}
