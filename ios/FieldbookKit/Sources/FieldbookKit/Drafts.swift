// Editable copies of the generated records. The bindings generate immutable structs
// (`generate_immutable_records = true` in bindings/uniffi.toml); screens edit one of these and
// turn it back into the record with `value`. One stored property per generated field, in the same
// order, so a field added to the bindings fails to compile here until it is mirrored.

import Foundation
import FieldbookFFI

/// `CrimeReport` with every field settable.
public struct CrimeReportDraft: Equatable {
    public var meta: RecordMeta
    public var reportedAt: Date?
    public var occurredFrom: Date?
    public var occurredTo: Date?
    public var location: LocationDraft?
    public var attendingOfficers: [String]
    public var classification: Classification?
    public var reclassificationReason: String?
    public var recordingDecision: RecordingDecisionDraft?
    public var narrative: String
    public var victims: [String]
    public var suspects: [String]
    public var witnesses: [String]
    public var property: [PropertyItem]
    public var attachments: [Attachment]
    public var flags: CrimeFlagsDraft
    public var thrive: ThriveDraft?
    public var outcome: Coded?
    public var victimDecision: VictimDecisionDraft?
    public var assessmentExemptions: [AssessmentExemption]

    public init(_ value: CrimeReport) {
        self.meta = value.meta
        self.reportedAt = value.reportedAt
        self.occurredFrom = value.occurredFrom
        self.occurredTo = value.occurredTo
        self.location = value.location.map { LocationDraft($0) }
        self.attendingOfficers = value.attendingOfficers
        self.classification = value.classification
        self.reclassificationReason = value.reclassificationReason
        self.recordingDecision = value.recordingDecision.map { RecordingDecisionDraft($0) }
        self.narrative = value.narrative
        self.victims = value.victims
        self.suspects = value.suspects
        self.witnesses = value.witnesses
        self.property = value.property
        self.attachments = value.attachments
        self.flags = CrimeFlagsDraft(value.flags)
        self.thrive = value.thrive.map { ThriveDraft($0) }
        self.outcome = value.outcome
        self.victimDecision = value.victimDecision.map { VictimDecisionDraft($0) }
        self.assessmentExemptions = value.assessmentExemptions
    }

    /// The record this draft describes.
    public var value: CrimeReport {
        CrimeReport(
            meta: meta,
            reportedAt: reportedAt,
            occurredFrom: occurredFrom,
            occurredTo: occurredTo,
            location: location.map(\.value),
            attendingOfficers: attendingOfficers,
            classification: classification,
            reclassificationReason: reclassificationReason,
            recordingDecision: recordingDecision.map(\.value),
            narrative: narrative,
            victims: victims,
            suspects: suspects,
            witnesses: witnesses,
            property: property,
            attachments: attachments,
            flags: flags.value,
            thrive: thrive.map(\.value),
            outcome: outcome,
            victimDecision: victimDecision.map(\.value),
            assessmentExemptions: assessmentExemptions
        )
    }
}

extension CrimeReport {
    /// A copy with `edit` applied.
    public func with(_ edit: (inout CrimeReportDraft) -> Void) -> CrimeReport {
        var draft = CrimeReportDraft(self)
        edit(&draft)
        return draft.value
    }
}

/// `StopSearch` with every field settable.
public struct StopSearchDraft: Equatable {
    public var meta: RecordMeta
    public var searchType: String?
    public var detainedAt: Date?
    public var searchedAt: Date?
    public var location: LocationDraft?
    public var searchLocation: LocationDraft?
    public var legislation: String?
    public var objectOfSearch: String?
    public var grounds: String?
    public var authorisationRef: String?
    public var outcome: String?
    public var outcomeLinkedToObjectOfSearch: Bool?
    public var removalOfMoreThanOuterClothing: Bool?
    public var injuryOrDamage: Bool?
    public var injuryOrDamageDetails: String?
    public var selfDefinedEthnicity: String?
    public var officerDefinedEthnicity: String?
    public var gender: String?
    public var age: AgeEvidenceDraft?
    public var ageRange: String?
    public var vehicleRegistration: String?
    public var bwvUsed: Bool?
    public var bwvReason: String?
    public var receiptGiven: Bool?
    public var receiptNotGivenReason: String?
    public var receiptReference: String
    public var personId: String?
    public var personDescription: String?
    public var operationName: String?

    public init(_ value: StopSearch) {
        self.meta = value.meta
        self.searchType = value.searchType
        self.detainedAt = value.detainedAt
        self.searchedAt = value.searchedAt
        self.location = value.location.map { LocationDraft($0) }
        self.searchLocation = value.searchLocation.map { LocationDraft($0) }
        self.legislation = value.legislation
        self.objectOfSearch = value.objectOfSearch
        self.grounds = value.grounds
        self.authorisationRef = value.authorisationRef
        self.outcome = value.outcome
        self.outcomeLinkedToObjectOfSearch = value.outcomeLinkedToObjectOfSearch
        self.removalOfMoreThanOuterClothing = value.removalOfMoreThanOuterClothing
        self.injuryOrDamage = value.injuryOrDamage
        self.injuryOrDamageDetails = value.injuryOrDamageDetails
        self.selfDefinedEthnicity = value.selfDefinedEthnicity
        self.officerDefinedEthnicity = value.officerDefinedEthnicity
        self.gender = value.gender
        self.age = value.age.map { AgeEvidenceDraft($0) }
        self.ageRange = value.ageRange
        self.vehicleRegistration = value.vehicleRegistration
        self.bwvUsed = value.bwvUsed
        self.bwvReason = value.bwvReason
        self.receiptGiven = value.receiptGiven
        self.receiptNotGivenReason = value.receiptNotGivenReason
        self.receiptReference = value.receiptReference
        self.personId = value.personId
        self.personDescription = value.personDescription
        self.operationName = value.operationName
    }

    /// The record this draft describes.
    public var value: StopSearch {
        StopSearch(
            meta: meta,
            searchType: searchType,
            detainedAt: detainedAt,
            searchedAt: searchedAt,
            location: location.map(\.value),
            searchLocation: searchLocation.map(\.value),
            legislation: legislation,
            objectOfSearch: objectOfSearch,
            grounds: grounds,
            authorisationRef: authorisationRef,
            outcome: outcome,
            outcomeLinkedToObjectOfSearch: outcomeLinkedToObjectOfSearch,
            removalOfMoreThanOuterClothing: removalOfMoreThanOuterClothing,
            injuryOrDamage: injuryOrDamage,
            injuryOrDamageDetails: injuryOrDamageDetails,
            selfDefinedEthnicity: selfDefinedEthnicity,
            officerDefinedEthnicity: officerDefinedEthnicity,
            gender: gender,
            age: age.map(\.value),
            ageRange: ageRange,
            vehicleRegistration: vehicleRegistration,
            bwvUsed: bwvUsed,
            bwvReason: bwvReason,
            receiptGiven: receiptGiven,
            receiptNotGivenReason: receiptNotGivenReason,
            receiptReference: receiptReference,
            personId: personId,
            personDescription: personDescription,
            operationName: operationName
        )
    }
}

extension StopSearch {
    /// A copy with `edit` applied.
    public func with(_ edit: (inout StopSearchDraft) -> Void) -> StopSearch {
        var draft = StopSearchDraft(self)
        edit(&draft)
        return draft.value
    }
}

/// `NeighbourhoodIssue` with every field settable.
public struct NeighbourhoodIssueDraft: Equatable {
    public var meta: RecordMeta
    public var reportedAt: Date?
    public var location: LocationDraft?
    public var attendingOfficers: [String]
    public var asbType: String?
    public var qualifier: String?
    public var reporterId: String?
    public var anonymousReporter: Bool
    public var flags: IssueFlagsDraft
    public var thrive: ThriveDraft?
    public var narrative: String
    public var actionsTaken: String
    public var saraPlanRef: String?
    public var linkedCrimeId: String?

    public init(_ value: NeighbourhoodIssue) {
        self.meta = value.meta
        self.reportedAt = value.reportedAt
        self.location = value.location.map { LocationDraft($0) }
        self.attendingOfficers = value.attendingOfficers
        self.asbType = value.asbType
        self.qualifier = value.qualifier
        self.reporterId = value.reporterId
        self.anonymousReporter = value.anonymousReporter
        self.flags = IssueFlagsDraft(value.flags)
        self.thrive = value.thrive.map { ThriveDraft($0) }
        self.narrative = value.narrative
        self.actionsTaken = value.actionsTaken
        self.saraPlanRef = value.saraPlanRef
        self.linkedCrimeId = value.linkedCrimeId
    }

    /// The record this draft describes.
    public var value: NeighbourhoodIssue {
        NeighbourhoodIssue(
            meta: meta,
            reportedAt: reportedAt,
            location: location.map(\.value),
            attendingOfficers: attendingOfficers,
            asbType: asbType,
            qualifier: qualifier,
            reporterId: reporterId,
            anonymousReporter: anonymousReporter,
            flags: flags.value,
            thrive: thrive.map(\.value),
            narrative: narrative,
            actionsTaken: actionsTaken,
            saraPlanRef: saraPlanRef,
            linkedCrimeId: linkedCrimeId
        )
    }
}

extension NeighbourhoodIssue {
    /// A copy with `edit` applied.
    public func with(_ edit: (inout NeighbourhoodIssueDraft) -> Void) -> NeighbourhoodIssue {
        var draft = NeighbourhoodIssueDraft(self)
        edit(&draft)
        return draft.value
    }
}

/// `VictimNeedsAssessment` with every field settable.
public struct VictimNeedsAssessmentDraft: Equatable {
    public var meta: RecordMeta
    public var crimeId: String?
    public var victimId: String?
    public var assessedAt: Date?
    public var enhancedRights: [String]
    public var enhancedRightsOverrides: [EnhancedRightsOverride]
    public var communication: CommunicationNeedsDraft
    public var contact: ContactPreferencesDraft?
    public var referral: ReferralDraft?
    public var vps: VpsStatus?
    public var acknowledgementGiven: Bool
    public var notes: String

    public init(_ value: VictimNeedsAssessment) {
        self.meta = value.meta
        self.crimeId = value.crimeId
        self.victimId = value.victimId
        self.assessedAt = value.assessedAt
        self.enhancedRights = value.enhancedRights
        self.enhancedRightsOverrides = value.enhancedRightsOverrides
        self.communication = CommunicationNeedsDraft(value.communication)
        self.contact = value.contact.map { ContactPreferencesDraft($0) }
        self.referral = value.referral.map { ReferralDraft($0) }
        self.vps = value.vps
        self.acknowledgementGiven = value.acknowledgementGiven
        self.notes = value.notes
    }

    /// The record this draft describes.
    public var value: VictimNeedsAssessment {
        VictimNeedsAssessment(
            meta: meta,
            crimeId: crimeId,
            victimId: victimId,
            assessedAt: assessedAt,
            enhancedRights: enhancedRights,
            enhancedRightsOverrides: enhancedRightsOverrides,
            communication: communication.value,
            contact: contact.map(\.value),
            referral: referral.map(\.value),
            vps: vps,
            acknowledgementGiven: acknowledgementGiven,
            notes: notes
        )
    }
}

extension VictimNeedsAssessment {
    /// A copy with `edit` applied.
    public func with(_ edit: (inout VictimNeedsAssessmentDraft) -> Void) -> VictimNeedsAssessment {
        var draft = VictimNeedsAssessmentDraft(self)
        edit(&draft)
        return draft.value
    }
}

/// `Person` with every field settable.
public struct PersonDraft: Equatable {
    public var meta: RecordMeta
    public var names: [PersonNameDraft]
    public var dateOfBirth: String?
    public var address: String?
    public var contact: ContactDetailsDraft
    public var communication: CommunicationNeedsDraft
    public var description: String?

    public init(_ value: Person) {
        self.meta = value.meta
        self.names = value.names.map { PersonNameDraft($0) }
        self.dateOfBirth = value.dateOfBirth
        self.address = value.address
        self.contact = ContactDetailsDraft(value.contact)
        self.communication = CommunicationNeedsDraft(value.communication)
        self.description = value.description
    }

    /// The record this draft describes.
    public var value: Person {
        Person(
            meta: meta,
            names: names.map(\.value),
            dateOfBirth: dateOfBirth,
            address: address,
            contact: contact.value,
            communication: communication.value,
            description: description
        )
    }
}

extension Person {
    /// A copy with `edit` applied.
    public func with(_ edit: (inout PersonDraft) -> Void) -> Person {
        var draft = PersonDraft(self)
        edit(&draft)
        return draft.value
    }
}

/// `Location` with every field settable.
public struct LocationDraft: Equatable {
    public var lat: Double?
    public var lon: Double?
    public var accuracyM: Double?
    public var description: String?
    public var street: String?
    public var ward: String?

    /// An empty value.
    public init() {
        self.lat = nil
        self.lon = nil
        self.accuracyM = nil
        self.description = nil
        self.street = nil
        self.ward = nil
    }

    public init(_ value: Location) {
        self.lat = value.lat
        self.lon = value.lon
        self.accuracyM = value.accuracyM
        self.description = value.description
        self.street = value.street
        self.ward = value.ward
    }

    /// The record this draft describes.
    public var value: Location {
        Location(
            lat: lat,
            lon: lon,
            accuracyM: accuracyM,
            description: description,
            street: street,
            ward: ward
        )
    }
}

extension Location {
    /// A copy with `edit` applied.
    public func with(_ edit: (inout LocationDraft) -> Void) -> Location {
        var draft = LocationDraft(self)
        edit(&draft)
        return draft.value
    }
}

/// `Thrive` with every field settable.
public struct ThriveDraft: Equatable {
    public var threat: String
    public var harm: String
    public var risk: String
    public var investigation: String
    public var vulnerability: String
    public var engagement: String
    public var adviceGiven: String

    /// An empty value.
    public init() {
        self.threat = ""
        self.harm = ""
        self.risk = ""
        self.investigation = ""
        self.vulnerability = ""
        self.engagement = ""
        self.adviceGiven = ""
    }

    public init(_ value: Thrive) {
        self.threat = value.threat
        self.harm = value.harm
        self.risk = value.risk
        self.investigation = value.investigation
        self.vulnerability = value.vulnerability
        self.engagement = value.engagement
        self.adviceGiven = value.adviceGiven
    }

    /// The record this draft describes.
    public var value: Thrive {
        Thrive(
            threat: threat,
            harm: harm,
            risk: risk,
            investigation: investigation,
            vulnerability: vulnerability,
            engagement: engagement,
            adviceGiven: adviceGiven
        )
    }
}

extension Thrive {
    /// A copy with `edit` applied.
    public func with(_ edit: (inout ThriveDraft) -> Void) -> Thrive {
        var draft = ThriveDraft(self)
        edit(&draft)
        return draft.value
    }
}

/// `CommunicationNeeds` with every field settable.
public struct CommunicationNeedsDraft: Equatable {
    public var interpreterLanguage: String?
    public var easyRead: Bool
    public var braille: Bool
    public var intermediary: Bool

    /// An empty value.
    public init() {
        self.interpreterLanguage = nil
        self.easyRead = false
        self.braille = false
        self.intermediary = false
    }

    public init(_ value: CommunicationNeeds) {
        self.interpreterLanguage = value.interpreterLanguage
        self.easyRead = value.easyRead
        self.braille = value.braille
        self.intermediary = value.intermediary
    }

    /// The record this draft describes.
    public var value: CommunicationNeeds {
        CommunicationNeeds(
            interpreterLanguage: interpreterLanguage,
            easyRead: easyRead,
            braille: braille,
            intermediary: intermediary
        )
    }
}

extension CommunicationNeeds {
    /// A copy with `edit` applied.
    public func with(_ edit: (inout CommunicationNeedsDraft) -> Void) -> CommunicationNeeds {
        var draft = CommunicationNeedsDraft(self)
        edit(&draft)
        return draft.value
    }
}

/// `ContactPreferences` with every field settable.
public struct ContactPreferencesDraft: Equatable {
    public var channel: ContactChannel
    public var frequency: String?
    public var safeContactMethod: String?
    public var automaticMessages: Bool

    public init(_ value: ContactPreferences) {
        self.channel = value.channel
        self.frequency = value.frequency
        self.safeContactMethod = value.safeContactMethod
        self.automaticMessages = value.automaticMessages
    }

    /// The record this draft describes.
    public var value: ContactPreferences {
        ContactPreferences(
            channel: channel,
            frequency: frequency,
            safeContactMethod: safeContactMethod,
            automaticMessages: automaticMessages
        )
    }
}

extension ContactPreferences {
    /// A copy with `edit` applied.
    public func with(_ edit: (inout ContactPreferencesDraft) -> Void) -> ContactPreferences {
        var draft = ContactPreferencesDraft(self)
        edit(&draft)
        return draft.value
    }
}

/// `CrimeFlags` with every field settable.
public struct CrimeFlagsDraft: Equatable {
    public var domesticAbuse: Bool
    public var hateCrime: Bool
    public var repeatVictim: Bool
    public var vulnerableVictim: Bool

    /// An empty value.
    public init() {
        self.domesticAbuse = false
        self.hateCrime = false
        self.repeatVictim = false
        self.vulnerableVictim = false
    }

    public init(_ value: CrimeFlags) {
        self.domesticAbuse = value.domesticAbuse
        self.hateCrime = value.hateCrime
        self.repeatVictim = value.repeatVictim
        self.vulnerableVictim = value.vulnerableVictim
    }

    /// The record this draft describes.
    public var value: CrimeFlags {
        CrimeFlags(
            domesticAbuse: domesticAbuse,
            hateCrime: hateCrime,
            repeatVictim: repeatVictim,
            vulnerableVictim: vulnerableVictim
        )
    }
}

extension CrimeFlags {
    /// A copy with `edit` applied.
    public func with(_ edit: (inout CrimeFlagsDraft) -> Void) -> CrimeFlags {
        var draft = CrimeFlagsDraft(self)
        edit(&draft)
        return draft.value
    }
}

/// `IssueFlags` with every field settable.
public struct IssueFlagsDraft: Equatable {
    public var `repeat`: Bool
    public var vulnerable: Bool

    /// An empty value.
    public init() {
        self.`repeat` = false
        self.vulnerable = false
    }

    public init(_ value: IssueFlags) {
        self.`repeat` = value.`repeat`
        self.vulnerable = value.vulnerable
    }

    /// The record this draft describes.
    public var value: IssueFlags {
        IssueFlags(
            repeat: `repeat`,
            vulnerable: vulnerable
        )
    }
}

extension IssueFlags {
    /// A copy with `edit` applied.
    public func with(_ edit: (inout IssueFlagsDraft) -> Void) -> IssueFlags {
        var draft = IssueFlagsDraft(self)
        edit(&draft)
        return draft.value
    }
}

/// `ContactDetails` with every field settable.
public struct ContactDetailsDraft: Equatable {
    public var phone: String?
    public var email: String?

    /// An empty value.
    public init() {
        self.phone = nil
        self.email = nil
    }

    public init(_ value: ContactDetails) {
        self.phone = value.phone
        self.email = value.email
    }

    /// The record this draft describes.
    public var value: ContactDetails {
        ContactDetails(
            phone: phone,
            email: email
        )
    }
}

extension ContactDetails {
    /// A copy with `edit` applied.
    public func with(_ edit: (inout ContactDetailsDraft) -> Void) -> ContactDetails {
        var draft = ContactDetailsDraft(self)
        edit(&draft)
        return draft.value
    }
}

/// `PersonName` with every field settable.
public struct PersonNameDraft: Equatable {
    public var given: String
    public var family: String
    public var alias: Bool

    /// An empty value.
    public init() {
        self.given = ""
        self.family = ""
        self.alias = false
    }

    public init(_ value: PersonName) {
        self.given = value.given
        self.family = value.family
        self.alias = value.alias
    }

    /// The record this draft describes.
    public var value: PersonName {
        PersonName(
            given: given,
            family: family,
            alias: alias
        )
    }
}

extension PersonName {
    /// A copy with `edit` applied.
    public func with(_ edit: (inout PersonNameDraft) -> Void) -> PersonName {
        var draft = PersonNameDraft(self)
        edit(&draft)
        return draft.value
    }
}

/// `VictimDecision` with every field settable.
public struct VictimDecisionDraft: Equatable {
    public var victimId: String
    public var recordedAt: Date
    public var method: String
    public var evidenceRef: String

    public init(_ value: VictimDecision) {
        self.victimId = value.victimId
        self.recordedAt = value.recordedAt
        self.method = value.method
        self.evidenceRef = value.evidenceRef
    }

    /// The record this draft describes.
    public var value: VictimDecision {
        VictimDecision(
            victimId: victimId,
            recordedAt: recordedAt,
            method: method,
            evidenceRef: evidenceRef
        )
    }
}

extension VictimDecision {
    /// A copy with `edit` applied.
    public func with(_ edit: (inout VictimDecisionDraft) -> Void) -> VictimDecision {
        var draft = VictimDecisionDraft(self)
        edit(&draft)
        return draft.value
    }
}

/// `AgeEvidence` with every field settable.
public struct AgeEvidenceDraft: Equatable {
    public var years: UInt8
    public var estimated: Bool

    public init(_ value: AgeEvidence) {
        self.years = value.years
        self.estimated = value.estimated
    }

    /// The record this draft describes.
    public var value: AgeEvidence {
        AgeEvidence(
            years: years,
            estimated: estimated
        )
    }
}

extension AgeEvidence {
    /// A copy with `edit` applied.
    public func with(_ edit: (inout AgeEvidenceDraft) -> Void) -> AgeEvidence {
        var draft = AgeEvidenceDraft(self)
        edit(&draft)
        return draft.value
    }
}

/// `RecordingDecision` with every field settable.
public struct RecordingDecisionDraft: Equatable {
    public var decision: RecordingDecisionKind
    public var decidedAt: Date
    public var rationale: String?

    public init(_ value: RecordingDecision) {
        self.decision = value.decision
        self.decidedAt = value.decidedAt
        self.rationale = value.rationale
    }

    /// The record this draft describes.
    public var value: RecordingDecision {
        RecordingDecision(
            decision: decision,
            decidedAt: decidedAt,
            rationale: rationale
        )
    }
}

extension RecordingDecision {
    /// A copy with `edit` applied.
    public func with(_ edit: (inout RecordingDecisionDraft) -> Void) -> RecordingDecision {
        var draft = RecordingDecisionDraft(self)
        edit(&draft)
        return draft.value
    }
}

/// `Referral` with every field settable.
public struct ReferralDraft: Equatable {
    public var decision: ReferralDecision
    public var explicitConsent: Bool?
    public var decidedAt: Date
    public var referredAt: Date?

    public init(_ value: Referral) {
        self.decision = value.decision
        self.explicitConsent = value.explicitConsent
        self.decidedAt = value.decidedAt
        self.referredAt = value.referredAt
    }

    /// The record this draft describes.
    public var value: Referral {
        Referral(
            decision: decision,
            explicitConsent: explicitConsent,
            decidedAt: decidedAt,
            referredAt: referredAt
        )
    }
}

extension Referral {
    /// A copy with `edit` applied.
    public func with(_ edit: (inout ReferralDraft) -> Void) -> Referral {
        var draft = ReferralDraft(self)
        edit(&draft)
        return draft.value
    }
}
