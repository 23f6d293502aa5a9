"""The whole loop through the generated Python bindings: an officer records offline, syncs to a
real server on 127.0.0.1, a supervisor approves, and scope, errors and cancellation behave as the
apps need. Every call goes through the same library the phones load."""

import asyncio
import datetime

import pytest

import fieldbook_ffi as fb
from conftest import Keys, Online

UTC = datetime.timezone.utc
SPECIFIC_GROUNDS = (
    "Saw him take a small clear bag of green herbal material from his sock and pass it to "
    "another male; strong smell of cannabis from that bag."
)


def now(minutes_ago=0):
    t = datetime.datetime.now(UTC) - datetime.timedelta(minutes=minutes_ago)
    return t.replace(microsecond=(t.microsecond // 1000) * 1000)


def run(coroutine):
    return asyncio.run(coroutine)


def rules_of(error):
    return {f.rule for f in error.findings}


def status_of(device, record_id):
    [row] = [r for r in device.list(fb.RecordFilter()) if r.id == record_id]
    return row.status


def record_crime_scene(device):
    """A victim (person), an assault crime report with that victim, and her needs assessment,
    entered through typed records the way an app's screens fill them."""
    victim = device.create_record(fb.RecordKind.PERSON).value
    victim.names = [fb.PersonName(given="Alex", family="Morgan", alias=False)]
    victim.date_of_birth = f"{now().year - 15}-01-01"
    victim.contact = fb.ContactDetails(phone="07700 900123", email=None)
    device.save(fb.Record.PERSON(victim))

    crime = device.create_record(fb.RecordKind.CRIME_REPORT).value
    # The offence shorthand expands from reference data, as the CLI's `set` does.
    crime = device.set_fields(crime.meta.id, ["classification=8N"]).value
    crime.reported_at = now(40)
    crime.occurred_from = now(90)
    crime.location = fb.Location(
        lat=53.4808, lon=-2.2426, accuracy_m=None,
        description="Flat 2, Example Road (front door)", street=None, ward=None,
    )
    crime.victims = [victim.meta.id]
    crime.attending_officers = ["PC5678"]
    crime.flags = fb.CrimeFlags(domestic_abuse=True, hate_crime=False, repeat_victim=False, vulnerable_victim=False)
    crime.narrative = "Victim states her partner pushed her against the door frame during an argument."
    crime.thrive = fb.Thrive(
        threat="partner still nearby", harm="physical injury", risk="high",
        investigation="arrest enquiries", vulnerability="under 18", engagement="supportive",
        advice_given="safety plan, refuge contact",
    )
    crime.recording_decision = fb.RecordingDecision(
        decision=fb.RecordingDecisionKind.CRIMED, decided_at=now(5), rationale=None,
    )
    device.save(fb.Record.CRIME(crime))
    return victim.meta.id, crime.meta.id


def record_needs_assessment(device, crime_id, victim_id):
    vna_id = device.create_record(fb.RecordKind.VICTIM_NEEDS_ASSESSMENT).value.meta.id
    device.set_fields(vna_id, [
        f"crime_id={crime_id}",
        f"victim_id={victim_id}",
        '["domestic-abuse","under-18"]'.join(["enhanced_rights=", ""]),
        '{"channel":"in-person","safe_contact_method":"via school safeguarding lead","automatic_messages":false}'.join(["contact=", ""]),
        f'referral={{"decision":"referred","explicit_consent":true,"decided_at":"{now(2).isoformat()}","referred_at":"{now(2).isoformat()}"}}',
        "vps=offered",
        "acknowledgement_given=true",
    ])
    return vna_id


def record_stop_search(device, grounds):
    search_id = device.create_record(fb.RecordKind.STOP_SEARCH).value.meta.id
    device.set_fields(search_id, [
        "type=Person search",
        "legislation=Misuse of Drugs Act 1971 (section 23)",
        "object_of_search=Controlled drugs",
        "location.description=Bus shelter, Market Street",
        "outcome=A no further action disposal",
        "removal_of_more_than_outer_clothing=false",
        "injury_or_damage=false",
        "self_defined_ethnicity=Other ethnic group - Not stated",
        "officer_defined_ethnicity=White",
        "gender=Male",
        '{"years":23,"estimated":true}'.join(["age=", ""]),
        "person_description=Male, early twenties, grey hooded top",
        "bwv_used=true",
        "receipt_given=true",
        f"grounds={grounds}",
    ])
    return search_id


def test_officer_records_offline_syncs_and_a_supervisor_approves(server, new_device):
    signal = Online(connected=True)
    officer = new_device("PC1234", fb.Role.OFFICER, connectivity=signal)
    run(officer.enrol(server.url, server.code("PC1234", "officer", "A"), "pixel"))
    signal.connected = False

    # No signal: everything is recorded and checked on the phone.
    victim_id, crime_id = record_crime_scene(officer)
    with pytest.raises(fb.FieldbookError.Validation) as refused:
        officer.submit(crime_id)
    assert "crime-victim-assessment" in rules_of(refused.value)
    finding = next(f for f in refused.value.findings if f.rule == "crime-victim-assessment")
    assert finding.severity == fb.Severity.ERROR and finding.field and finding.message

    vna_id = record_needs_assessment(officer, crime_id, victim_id)
    assert [f for f in officer.check(crime_id) if f.severity == fb.Severity.ERROR] == []
    officer.submit(crime_id)
    officer.submit(vna_id)

    search_id = record_stop_search(officer, "Acting suspiciously in a high crime area")
    with pytest.raises(fb.FieldbookError.Validation) as boilerplate:
        officer.submit(search_id)
    assert [f.field for f in boilerplate.value.findings if f.rule == "ss-grounds-specific"] == ["grounds"]
    officer.set_fields(search_id, [f"grounds={SPECIFIC_GROUNDS}"])
    officer.submit(search_id)
    assert "Misuse of Drugs Act 1971" in officer.receipt(search_id)

    with pytest.raises(fb.FieldbookError.Offline):
        run(officer.sync())
    assert officer.sync_status().unsynced == 4

    # Signal returns.
    signal.connected = True
    phases = []

    class Watch(fb.SyncObserver):
        def on_phase(self, phase):
            phases.append(phase)

        def on_outbox(self, records, requests):
            pass

        def on_pushed(self, records, bytes):
            pass

        def on_pulled(self, records, bytes, pages):
            pass

    report = run(officer.sync(Watch()))
    assert report.accepted == 4 and report.rejected == []
    assert phases[0] == fb.SyncPhase.PUSHING and phases[-1] == fb.SyncPhase.DONE
    assert officer.sync_status().unsynced == 0

    sergeant = new_device("SGT1", fb.Role.SUPERVISOR)
    run(sergeant.enrol(server.url, server.code("SGT1", "supervisor", "A"), "tablet"))
    run(sergeant.sync())
    queue = {item.id: item for item in sergeant.review_queue()}
    assert {crime_id, search_id} <= set(queue)
    assert queue[search_id].can_approve and queue[search_id].author == "PC1234"
    assert isinstance(queue[crime_id].waiting, datetime.timedelta)
    sergeant.approve(crime_id)
    sergeant.return_to_author(search_id, "Add the vehicle the bag was passed to")
    run(sergeant.sync())

    run(officer.sync())
    assert status_of(officer, crime_id) == fb.Status.APPROVED
    [task] = officer.returned_to_me()
    assert (task.id, task.by, task.reason) == (search_id, "SGT1", "Add the vehicle the bag was passed to")
    approval = officer.approval_state(crime_id)
    assert approval.is_APPROVED() and approval.by == "SGT1"


def test_a_second_officer_sees_only_what_their_scope_allows(server, new_device):
    officer = new_device("PC1234", fb.Role.OFFICER)
    run(officer.enrol(server.url, server.code("PC1234", "officer", "A"), "pixel"))
    victim_id, crime_id = record_crime_scene(officer)  # PC5678 attended
    search_id = record_stop_search(officer, SPECIFIC_GROUNDS)
    run(officer.sync())

    attending = new_device("PC5678", fb.Role.OFFICER)
    run(attending.enrol(server.url, server.code("PC5678", "officer", "A"), "pixel"))
    run(attending.sync())
    held = {r.id for r in attending.list(fb.RecordFilter())}
    assert {crime_id, victim_id} <= held
    assert search_id not in held
    crime = attending.get(crime_id)
    assert crime.is_CRIME() and crime.value.narrative.startswith("Victim states")

    other = new_device("PC9999", fb.Role.OFFICER)
    run(other.enrol(server.url, server.code("PC9999", "officer", "A"), "pixel"))
    run(other.sync())
    assert other.list(fb.RecordFilter()) == []
    with pytest.raises(fb.FieldbookError.NotFound):
        other.get(crime_id)


def test_validation_findings_name_the_field_and_nothing_is_stored(new_device):
    officer = new_device("PC1234", fb.Role.OFFICER)
    crime = officer.create_record(fb.RecordKind.CRIME_REPORT).value
    with pytest.raises(fb.FieldbookError.Validation) as bad_value:
        officer.set_fields(crime.meta.id, ["location.lat=north"])
    [finding] = bad_value.value.findings
    assert finding.field == "location.lat" and finding.rule and finding.message

    crime.victims = ["not-a-record-id"]
    with pytest.raises(fb.FieldbookError.Validation) as bad_id:
        officer.save(fb.Record.CRIME(crime))
    assert [f.field for f in bad_id.value.findings] == ["victims[0]"]
    assert officer.get(crime.meta.id).value.victims == []

    pcso = new_device("PCSO42", fb.Role.PCSO)
    with pytest.raises(fb.FieldbookError.NotPermitted) as forbidden:
        pcso.create_record(fb.RecordKind.STOP_SEARCH)
    assert forbidden.value.code == "forbidden"
    assert pcso.count() == 0


def test_a_revoked_device_is_told_and_keeps_its_work(server, new_device):
    officer = new_device("PC1234", fb.Role.OFFICER)
    enrolment = run(officer.enrol(server.url, server.code("PC1234", "officer", "A"), "pixel"))
    run(officer.sync())
    server.admin("revoke", "--device", enrolment.device_id)

    record_stop_search(officer, SPECIFIC_GROUNDS)
    with pytest.raises(fb.FieldbookError.DeviceRevoked):
        run(officer.sync())
    status = officer.sync_status()
    assert status.unsynced == 1 and status.last_error == "device-revoked"


def test_a_wrong_key_cannot_open_the_store(tmp_path):
    path = str(tmp_path / "phone.fieldbook")
    fb.FieldbookDevice.setup(path, "PC1234", fb.Role.OFFICER, Keys())
    with pytest.raises(fb.FieldbookError.Storage) as wrong:
        fb.FieldbookDevice.open(path, Keys(bytes(32)))
    assert wrong.value.code == "key-rejected"
    with pytest.raises(fb.FieldbookError.Storage) as short:
        fb.FieldbookDevice.open(path, Keys(b"too short"))
    assert short.value.code == "bad-key"
    assert fb.FieldbookDevice.open(path, Keys()).user() == fb.UserInfo(officer="PC1234", role=fb.Role.OFFICER)


def test_a_sync_stalled_on_the_network_can_be_cancelled_and_loses_nothing(server, proxy, new_device):
    officer = new_device("PC1234", fb.Role.OFFICER)
    run(officer.enrol(proxy.url, server.code("PC1234", "officer", "A"), "pixel"))
    search_id = record_stop_search(officer, SPECIFIC_GROUNDS)
    proxy.stall.set()

    async def cancel_after_a_moment():
        cancel = fb.SyncCancel()
        sync = asyncio.ensure_future(officer.sync(None, cancel))
        await asyncio.sleep(0.3)
        assert not sync.done()
        # Saving stays possible while the sync waits on the network.
        officer.set_fields(search_id, ["operation_name=Op Example"])
        cancel.cancel()
        with pytest.raises(fb.FieldbookError.Cancelled):
            await asyncio.wait_for(sync, timeout=5)

    run(cancel_after_a_moment())
    assert officer.sync_status().unsynced == 1

    proxy.stall.clear()
    report = run(asyncio.wait_for(officer.sync(), timeout=20))
    assert report.accepted == 1 and officer.sync_status().unsynced == 0
    # The edit made while the sync waited is in what was pushed.
    attending = new_device("SGT1", fb.Role.SUPERVISOR)
    run(attending.enrol(server.url, server.code("SGT1", "supervisor", "A"), "tablet"))
    officer.submit(search_id)
    run(asyncio.wait_for(officer.sync(), timeout=20))
    run(attending.sync())
    assert attending.get(search_id).value.operation_name == "Op Example"


def test_a_handle_cancelled_before_the_sync_starts_stops_it_at_once(new_device):
    officer = new_device("PC1234", fb.Role.OFFICER)
    cancel = fb.SyncCancel()
    cancel.cancel()
    with pytest.raises(fb.FieldbookError.Cancelled):
        run(officer.sync(None, cancel))
    assert cancel.is_cancelled()
    # Without the cancel, the same device says what is really missing.
    with pytest.raises(fb.FieldbookError.NotEnrolled):
        run(officer.sync())


def test_cancelling_the_python_task_cancels_the_sync(server, proxy, new_device):
    officer = new_device("PC1234", fb.Role.OFFICER)
    run(officer.enrol(proxy.url, server.code("PC1234", "officer", "A"), "pixel"))
    record_stop_search(officer, SPECIFIC_GROUNDS)
    proxy.stall.set()

    async def give_up():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(officer.sync(), timeout=0.3)

    run(give_up())
    proxy.stall.clear()
    assert run(asyncio.wait_for(officer.sync(), timeout=20)).accepted == 1


def test_the_platform_clock_stamps_records_and_drives_overdue_decisions(tmp_path):
    class PinnedClock(fb.Clock):
        def __init__(self):
            self.at = datetime.datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

        def now(self):
            return self.at

    clock = PinnedClock()
    device = fb.FieldbookDevice.setup(str(tmp_path / "phone.fieldbook"), "PC1234", fb.Role.OFFICER, Keys(), clock)
    crime = device.create_record(fb.RecordKind.CRIME_REPORT).value
    assert crime.meta.created_at == clock.at
    crime.reported_at = clock.at
    device.save(fb.Record.CRIME(crime))
    assert [r.id for r in device.overdue_decisions()] == []
    clock.at += datetime.timedelta(hours=25)
    [overdue] = device.overdue_decisions()
    assert overdue.id == crime.meta.id
    assert overdue.decision_due_at == datetime.datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_the_quarantine_is_empty_for_an_honest_device_and_names_unknown_items(server, new_device):
    officer = new_device("PC1234", fb.Role.OFFICER)
    run(officer.enrol(server.url, server.code("PC1234", "officer", "A"), "pixel"))
    record_stop_search(officer, SPECIFIC_GROUNDS)
    report = run(officer.sync())
    assert (report.accepted, report.quarantined) == (1, 0)
    assert officer.quarantine() == [] and officer.sync_status().quarantined == 0
    with pytest.raises(fb.FieldbookError.Validation) as unknown:
        officer.dismiss_quarantine(7)
    assert rules_of(unknown.value) == {"unknown-quarantine"}
