package org.fieldbook.core

import java.io.File
import java.time.Instant
import java.time.temporal.ChronoUnit
import javax.crypto.KeyGenerator
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertIs
import kotlin.test.assertNotEquals
import kotlin.test.assertTrue
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.withTimeout
import org.fieldbook.ffi.ContactDetails
import org.fieldbook.ffi.CrimeFlags
import org.fieldbook.ffi.FieldbookDevice
import org.fieldbook.ffi.FieldbookException
import org.fieldbook.ffi.Location
import org.fieldbook.ffi.PersonName
import org.fieldbook.ffi.Record
import org.fieldbook.ffi.RecordKind
import org.fieldbook.ffi.RecordingDecision
import org.fieldbook.ffi.RecordingDecisionKind
import org.fieldbook.ffi.Role
import org.fieldbook.ffi.Severity
import org.fieldbook.ffi.Status
import org.fieldbook.ffi.SyncPhase
import org.fieldbook.ffi.Thrive

private const val SPECIFIC_GROUNDS = "Saw him take a small clear bag of green herbal material from his sock and " +
    "pass it to another male; strong smell of cannabis from that bag."

private fun minutesAgo(m: Long): Instant = Instant.now().truncatedTo(ChronoUnit.MILLIS).minus(m, ChronoUnit.MINUTES)

/** A victim, her crime report and her needs assessment, filled in through typed records. */
private suspend fun FieldbookRepository.recordAssault(): Triple<String, String, String> {
    val victim = (create(RecordKind.PERSON) as Record.Person).value
    victim.names = listOf(PersonName(given = "Alex", family = "Morgan", alias = false))
    victim.dateOfBirth = "${Instant.now().atZone(java.time.ZoneOffset.UTC).year - 15}-01-01"
    victim.contact = ContactDetails(phone = "07700 900123", email = null)
    save(Record.Person(victim))

    val crimeId = (create(RecordKind.CRIME_REPORT) as Record.Crime).value.meta.id
    val crime = (device.setFields(crimeId, listOf("classification=8N")) as Record.Crime).value
    save(
        Record.Crime(
            crime.copy(
                reportedAt = minutesAgo(40),
                occurredFrom = minutesAgo(90),
                location = Location(53.4808, -2.2426, null, "Flat 2, Example Road", null, null),
                victims = listOf(victim.meta.id),
                flags = CrimeFlags(domesticAbuse = true, hateCrime = false, repeatVictim = false, vulnerableVictim = false),
                narrative = "Victim states her partner pushed her against the door frame.",
                thrive = Thrive("partner nearby", "injury", "high", "arrest enquiries", "under 18", "supportive", "safety plan"),
                recordingDecision = RecordingDecision(RecordingDecisionKind.CRIMED, minutesAgo(5), null),
            ),
        ),
    )
    val vnaId = (create(RecordKind.VICTIM_NEEDS_ASSESSMENT) as Record.Vna).value.meta.id
    val decided = minutesAgo(2).toString()
    device.setFields(
        vnaId,
        listOf(
            "crime_id=$crimeId",
            "victim_id=${victim.meta.id}",
            "enhanced_rights=[\"domestic-abuse\",\"under-18\"]",
            "contact={\"channel\":\"in-person\",\"safe_contact_method\":\"via school\",\"automatic_messages\":false}",
            "referral={\"decision\":\"referred\",\"explicit_consent\":true,\"decided_at\":\"$decided\",\"referred_at\":\"$decided\"}",
            "vps=offered",
            "acknowledgement_given=true",
        ),
    )
    return Triple(victim.meta.id, crimeId, vnaId)
}

private fun FieldbookDevice.recordStopSearch(grounds: String): String {
    val id = (createRecord(RecordKind.STOP_SEARCH) as Record.StopSearch).value.meta.id
    setFields(
        id,
        listOf(
            "type=Person search", "legislation=Misuse of Drugs Act 1971 (section 23)",
            "object_of_search=Controlled drugs", "location.description=Bus shelter, Market Street",
            "outcome=A no further action disposal", "removal_of_more_than_outer_clothing=false",
            "injury_or_damage=false", "self_defined_ethnicity=Other ethnic group - Not stated",
            "officer_defined_ethnicity=White", "gender=Male", "age={\"years\":23,\"estimated\":true}",
            "person_description=Male, early twenties", "bwv_used=true", "receipt_given=true",
            "grounds=$grounds",
        ),
    )
    return id
}

val allTests = listOf(
    Test("an officer's records sync through the repository and a supervisor approves them") { s ->
        val server = s.server()
        val officer = FieldbookRepository(s.device("PC1234", Role.OFFICER))
        officer.device.enrol(server.url, server.code("PC1234", "officer", "A"), "pixel")

        val (_, crimeId, vnaId) = officer.recordAssault()
        val searchId = officer.device.recordStopSearch("Acting suspiciously in a high crime area")
        val refused = assertFailsWith<FieldbookException.Validation> { officer.submit(searchId) }
        val grounds = refused.findings.single { it.rule == "ss-grounds-specific" }
        assertEquals("grounds", grounds.field)
        assertEquals(Severity.ERROR, grounds.severity)
        officer.device.setFields(searchId, listOf("grounds=$SPECIFIC_GROUNDS"))
        for (id in listOf(crimeId, vnaId, searchId)) officer.submit(id)
        assertTrue(officer.receipt(searchId).contains("Misuse of Drugs Act 1971"))

        val seen = mutableListOf<SyncState>()
        val watcher = kotlinx.coroutines.CoroutineScope(Dispatchers.Default).async {
            officer.syncState.first { seen += it; it is SyncState.Idle && it.last != null }
        }
        val report = officer.sync()!!
        withTimeout(5_000) { watcher.await() }
        // The flow publishes the finished sync's report (StateFlow conflates, so the running
        // states in between may or may not be seen).
        assertEquals(report, (seen.last() as SyncState.Idle).last)
        assertEquals(4uL, report.accepted)
        assertIs<SyncState.Idle>(officer.syncState.value)
        assertEquals(0uL, officer.device.syncStatus().unsynced)

        val sergeant = FieldbookRepository(s.device("SGT1", Role.SUPERVISOR))
        sergeant.device.enrol(server.url, server.code("SGT1", "supervisor", "A"), "tablet")
        sergeant.sync()
        val queue = sergeant.reviewQueue().associateBy { it.id }
        assertTrue(queue.keys.containsAll(listOf(crimeId, searchId)))
        sergeant.approve(searchId)
        sergeant.returnToAuthor(crimeId, "Add the time the neighbour called")
        sergeant.sync()

        officer.sync()
        assertEquals(Status.APPROVED, officer.myRecords(RecordKind.STOP_SEARCH).single().status)
        val task = officer.returnedToMe().single()
        assertEquals(crimeId to "Add the time the neighbour called", task.id to task.reason)
    },

    Test("the sync state flow shows a failure an app can act on, and work is kept") { s ->
        val server = s.server()
        val officer = FieldbookRepository(s.device("PC1234", Role.OFFICER))
        val enrolment = officer.device.enrol(server.url, server.code("PC1234", "officer", "A"), "pixel")
        server.admin("revoke", "--device", enrolment.deviceId)
        officer.device.recordStopSearch(SPECIFIC_GROUNDS)
        assertEquals(null, officer.sync())
        val failed = assertIs<SyncState.Failed>(officer.syncState.value)
        assertIs<FieldbookException.DeviceRevoked>(failed.error)
        assertEquals(1uL, officer.device.syncStatus().unsynced)
    },

    Test("a stalled sync is cancelled by the handle and by coroutine cancellation; saving goes on") { s ->
        val server = s.server()
        val proxy = s.proxy(server.url)
        val officer = FieldbookRepository(s.device("PC1234", Role.OFFICER))
        officer.device.enrol(proxy.url, server.code("PC1234", "officer", "A"), "pixel")
        val id = officer.device.recordStopSearch(SPECIFIC_GROUNDS)
        proxy.stall = true

        val running = kotlinx.coroutines.CoroutineScope(Dispatchers.Default).async { officer.sync() }
        withTimeout(5_000) { officer.syncState.first { it is SyncState.Running } }
        delay(200)
        officer.device.setFields(id, listOf("operation_name=Op Example")) // not blocked by the sync
        officer.cancelSync()
        assertEquals(null, withTimeout(5_000) { running.await() })
        assertIs<SyncState.Idle>(officer.syncState.value)

        val gaveUp = runCatching { withTimeout(300) { officer.device.sync() } }
        assertIs<kotlinx.coroutines.TimeoutCancellationException>(gaveUp.exceptionOrNull())

        proxy.stall = false
        assertEquals(1uL, officer.sync()!!.accepted)
        assertEquals(0uL, officer.device.syncStatus().unsynced)
    },

    Test("the database key is kept only wrapped, and a different platform key cannot open it") { s ->
        val platformKey = KeyGenerator.getInstance("AES").apply { init(256) }.generateKey()
        val blob = File(s.dir, "db.key")
        val keys = WrappedDatabaseKeyProvider(AesGcmKeyWrapper(platformKey), FileWrappedKeyStorage(blob))
        val path = File(s.dir, "phone.fieldbook").path
        val first = FieldbookDevice.setup(path, "PC1234", Role.OFFICER, keys)
        val id = first.recordStopSearch(SPECIFIC_GROUNDS)
        first.close()

        val raw = keys.databaseKey()
        assertEquals(32, raw.size)
        assertTrue(blob.readBytes().size > 32)
        assertNotEquals(raw.toList(), blob.readBytes().takeLast(32))
        val again = FieldbookDevice.open(path, WrappedDatabaseKeyProvider(AesGcmKeyWrapper(platformKey), FileWrappedKeyStorage(blob)))
        assertIs<Record.StopSearch>(again.get(id))

        val otherPlatformKey = KeyGenerator.getInstance("AES").apply { init(256) }.generateKey()
        val wrong = assertFailsWith<FieldbookException.Storage> {
            FieldbookDevice.open(path, WrappedDatabaseKeyProvider(AesGcmKeyWrapper(otherPlatformKey), FileWrappedKeyStorage(blob)))
        }
        assertEquals("key-unavailable", wrong.code)
        val rawWrong = assertFailsWith<FieldbookException.Storage> { FieldbookDevice.open(path, FixedKey(ByteArray(32))) }
        assertEquals("key-rejected", rawWrong.code)
    },

    Test("typed records round-trip and bad input names the field without storing anything") { s ->
        val officer = FieldbookRepository(s.device("PC1234", Role.OFFICER))
        val crime = (officer.create(RecordKind.CRIME_REPORT) as Record.Crime).value
        val bad = assertFailsWith<FieldbookException.Validation> {
            officer.save(Record.Crime(crime.copy(victims = listOf("not-an-id"))))
        }
        assertEquals(listOf("victims[0]"), bad.findings.map { it.field })
        officer.save(Record.Crime(crime.copy(narrative = "Window smashed at the rear.")))
        assertEquals("Window smashed at the rear.", (officer.get(crime.meta.id) as Record.Crime).value.narrative)

        val pcso = FieldbookRepository(s.device("PCSO42", Role.PCSO))
        val forbidden = assertFailsWith<FieldbookException.NotPermitted> { pcso.create(RecordKind.STOP_SEARCH) }
        assertEquals("forbidden", forbidden.code)
        val lists = pcso.device.referenceLists()
        assertTrue(lists.offences.any { it.code == "8N" })
        assertTrue(lists.searchPowers.any { it.label.contains("Misuse of Drugs Act") })
    },
)
