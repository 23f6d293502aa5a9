package org.fieldbook.app.ui.quarantine

import android.content.ClipData
import android.content.ClipDescription
import android.content.ClipboardManager
import android.content.Context
import android.os.Build
import android.os.PersistableBundle
import android.widget.Toast
import java.time.OffsetDateTime
import java.time.format.DateTimeParseException
import org.fieldbook.app.ui.display
import org.fieldbook.ffi.Record
import org.fieldbook.ffi.Thrive
import org.json.JSONArray
import org.json.JSONException
import org.json.JSONObject
import org.json.JSONTokener

// The quarantine shows the officer what the server refused in words, not JSON: the core gives
// refused values as JSON text (`FieldDiff.oldJson` / `newJson`). Nothing here judges a value.

/** A refused value as the officer reads it: text unquoted, yes/no, lists; "" for null or absent. */
fun readableJson(json: String): String = try {
    readable(JSONTokener(json).nextValue())
} catch (e: JSONException) {
    json
}

private fun readable(value: Any?): String = when {
    value == null || value == JSONObject.NULL -> ""
    value is String -> value.asTime() ?: value
    value is Boolean -> if (value) "Yes" else "No"
    value is JSONArray -> {
        val items = (0 until value.length()).map { value.opt(it) }
        val text = items.map(::readable).filter { it.isNotBlank() }
        if (items.all { it !is JSONArray && it !is JSONObject }) text.joinToString(", ") else text.joinToString("\n")
    }
    value is JSONObject -> readableObject(value)
    else -> value.toString()
}

private fun readableObject(o: JSONObject): String {
    fun text(key: String) = readable(o.opt(key))
    // A workflow step (submitted, approved...): its heads are hashes nobody reads.
    if (o.has("action") && o.has("by")) {
        return listOf("${text("action")} by ${text("by")}", text("at"), text("reason"))
            .filter { it.isNotBlank() }
            .joinToString(", ")
    }
    return o.keys().asSequence()
        .mapNotNull { key -> text(key).takeIf { it.isNotBlank() }?.let { "${key.replace('_', ' ')}: $it" } }
        .joinToString("\n")
}

/** Times are stored as RFC 3339 text; show them like every other time in the app. */
private fun String.asTime(): String? {
    if (length < 20 || this[4] != '-' || this[10] != 'T') return null
    return try {
        OffsetDateTime.parse(this).toInstant().display()
    } catch (e: DateTimeParseException) {
        null
    }
}

private val fieldLabels = mapOf(
    "meta.workflow" to "Workflow steps (submit, approve, return)",
    "location.description" to "Place",
    "search_location.description" to "Place searched",
    "type" to "Type of search",
)

/** A field path (`thrive.advice_given`) as a label (`Thrive › advice given`). */
fun fieldLabel(path: String): String = fieldLabels[path]
    ?: path.split('.').joinToString(" › ") { it.replace('_', ' ') }.replaceFirstChar { it.uppercase() }

/** Whether [path] is the refused field [field] or inside it (`thrive.risk` is inside `thrive`). */
fun isWithin(path: String, field: String) =
    path == field || path.startsWith("$field.") || path.startsWith("$field[")

/** A piece of free text in a record: what the officer typed and may need to copy elsewhere. */
data class TypedText(val label: String, val path: String, val text: String)

private fun typed(label: String, path: String, text: String?) =
    text?.takeIf { it.isNotBlank() }?.let { TypedText(label, path, it) }

private fun Thrive?.thriveTexts(): List<TypedText?> = if (this == null) emptyList() else listOf(
    typed("THRIVE: threat", "thrive.threat", threat),
    typed("THRIVE: harm", "thrive.harm", harm),
    typed("THRIVE: risk", "thrive.risk", risk),
    typed("THRIVE: investigation", "thrive.investigation", investigation),
    typed("THRIVE: vulnerability", "thrive.vulnerability", vulnerability),
    typed("THRIVE: engagement", "thrive.engagement", engagement),
    typed("THRIVE: advice given", "thrive.advice_given", adviceGiven),
)

/** The record's free-text fields that hold something, in the order its editing screen shows them. */
fun Record.typedTexts(): List<TypedText> = when (this) {
    is Record.Crime -> with(value) {
        listOf(
            typed("Place", "location.description", location?.description),
            typed("Reason for reclassification", "reclassification_reason", reclassificationReason),
            typed("Recording decision rationale", "recording_decision.rationale", recordingDecision?.rationale),
            typed("Narrative", "narrative", narrative),
        ) + thrive.thriveTexts() +
            property.mapIndexed { i, p -> typed("Property ${i + 1}", "property", p.description) } +
            assessmentExemptions.mapIndexed { i, e -> typed("No assessment: note ${i + 1}", "assessment_exemptions", e.note) } +
            listOf(
                typed("How the victim's decision was obtained", "victim_decision.method", victimDecision?.method),
                typed("Victim's decision: evidence reference", "victim_decision.evidence_ref", victimDecision?.evidenceRef),
            )
    }
    is Record.Vna -> with(value) {
        enhancedRightsOverrides.mapIndexed { i, o -> typed("Why enhanced rights do not apply (${o.category})", "enhanced_rights_overrides[$i]", o.reason) } +
            listOf(
                typed("Interpreter (language)", "communication.interpreter_language", communication.interpreterLanguage),
                typed("How often to contact", "contact.frequency", contact?.frequency),
                typed("Safe way to make contact", "contact.safe_contact_method", contact?.safeContactMethod),
                typed("Notes", "notes", notes),
            )
    }
    is Record.StopSearch -> with(value) {
        listOf(
            typed("Place", "location.description", location?.description),
            typed("Place searched", "search_location.description", searchLocation?.description),
            typed("Operation", "operation_name", operationName),
            typed("Grounds", "grounds", grounds),
            typed("Authorisation reference", "authorisation_ref", authorisationRef),
            typed("Injury or damage details", "injury_or_damage_details", injuryOrDamageDetails),
            typed("Description of the person", "person_description", personDescription),
            typed("Vehicle registration", "vehicle_registration", vehicleRegistration),
            typed("Why no body-worn video", "bwv_reason", bwvReason),
            typed("Why no receipt", "receipt_not_given_reason", receiptNotGivenReason),
        )
    }
    is Record.Issue -> with(value) {
        listOf(
            typed("Place", "location.description", location?.description),
            typed("Narrative", "narrative", narrative),
            typed("Actions taken", "actions_taken", actionsTaken),
            typed("Problem-solving (SARA) plan reference", "sara_plan_ref", saraPlanRef),
        ) + thrive.thriveTexts()
    }
    is Record.Person -> with(value) {
        names.mapIndexed { i, n -> typed(if (n.alias) "Alias" else "Name", "names[$i]", "${n.given} ${n.family}".trim()) } +
            listOf(
                typed("Date of birth", "date_of_birth", dateOfBirth),
                typed("Address", "address", address),
                typed("Phone", "contact.phone", contact.phone),
                typed("Email", "contact.email", contact.email),
                typed("Physical description", "description", description),
            )
    }
}.filterNotNull()

/**
 * Puts [text] on the clipboard marked sensitive, so Android 13+ hides it from the clipboard
 * preview and keyboards' suggestions: it may hold a victim's details or a search's grounds.
 */
fun copyToClipboard(context: Context, label: String, text: String) {
    val clip = ClipData.newPlainText(label, text)
    clip.description.extras = PersistableBundle().apply {
        val key = if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU) ClipDescription.EXTRA_IS_SENSITIVE else "android.content.extra.IS_SENSITIVE"
        putBoolean(key, true)
    }
    context.getSystemService(ClipboardManager::class.java).setPrimaryClip(clip)
    // Android 13+ confirms a copy itself; before that, say so.
    if (Build.VERSION.SDK_INT < Build.VERSION_CODES.TIRAMISU) Toast.makeText(context, "Copied", Toast.LENGTH_SHORT).show()
}
