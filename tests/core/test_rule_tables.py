"""Every registered rule table, checked as data and without the database.

Below is the portal's lifecycle as the SPEC states it, written out here independently of the code: per
model, each action → (from which states, to which state, by which roles, for the owning PO only, with
which further check of *who*, whether the portal itself may take it). The tests then check that

- every table registered on the engine (`core.lifecycle.registered()`) has an expected table here (a
  new table fails until its expectation is written: add it to EXPECTED);
- each registered table *is* the expected one, action by action;
- for every state and persona, `available_rules()` offers exactly the expected actions, and for every
  rule `may_act()` and the rule's sources agree with the expectation. These cases are generated from
  the expected table, so removing a rule fails its allowed cases, and widening one (a source state,
  a role, a dropped PO or `who` check) fails a refused case. (A role that the rule's `who` check
  itself refuses changes nothing anyone can do; the comparison of the tables catches it.)

The objects are unsaved model instances and the users simple stand-ins (`has_role`,
`is_authenticated`, `partner_organization_id`, `pk`); the `who` checks run for real (a proposal's
agenda is handed to `current_agenda_item` as a prefetched list), none is stubbed. The database is
blocked: a `who` check that queries it fails here, and its expectation must then build the object
so that it does not (see `make`). End-to-end cases through `apply()` (the Transition row, refusals
changing nothing) are in tests/subprojects/test_workflow.py and tests/verification/test_checks.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from django.db.models import Model

from core import lifecycle
from core.models import ExportJob
from core.roles import Role
from enterprises.models import (
    Adoption,
    ClusterSuggestion,
    CommonServiceFacility,
    DuplicateSuspect,
    Enterprise,
    ImportJob,
    RecpProfile,
)
from finance.models import FinancialReport, Milestone, Release, SpendingReport
from grievances.models import Grievance
from monitoring.models import AggregationRun, ReportJob
from safeguards.models import CorrectiveAction, EsReview, Incident, MeScreening
from subprojects.models import (
    AgendaItem,
    Call,
    ConceptNote,
    Proposal,
    ScoreSheet,
    SubProject,
    TecMeeting,
)
from verification.models import VerificationCheck

OWN_PO, OTHER_PO = 101, 202
# The meeting's chair (`tec_chair`), and the member whose score sheet it is: everyone else, so that
# a `who` check by identity alone refuses them by their role only, and a role added to its rule shows.
CHAIR_PK, MEMBER_PK = 7, 8


# --- The people who may try -----------------------------------------------------------------------


@dataclass(frozen=True)
class Persona:
    """A stand-in for a signed-in user: what `may_act` and the `who` checks read."""

    name: str
    roles: frozenset[Role] = frozenset()
    partner_organization_id: int | None = None
    pk: int = MEMBER_PK
    is_authenticated: bool = True
    # The chair of the meeting whose agenda the proposal is on.
    chairs: bool = False

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    def __str__(self) -> str:
        return self.name


def persona(name, *roles, po=None, pk=MEMBER_PK, **kwargs) -> Persona:
    return Persona(name, frozenset(roles), po, pk, **kwargs)


PORTAL = None  # the portal itself (a scheduled task): `user=None`
PERSONAS: dict[str, Persona | None] = {
    "portal": PORTAL,
    "anonymous": persona("anonymous", is_authenticated=False),
    "no_role": persona("no_role"),
    "po_own": persona("po_own", Role.PO_STAFF, po=OWN_PO),
    "po_other": persona("po_other", Role.PO_STAFF, po=OTHER_PO),
    "pmu": persona("pmu", Role.PMU_OFFICER),
    "pmu_of_a_po": persona("pmu_of_a_po", Role.PMU_OFFICER, po=OWN_PO),
    "tec_chair": persona("tec_chair", Role.TEC_MEMBER, pk=CHAIR_PK, chairs=True),
    "tec_member": persona("tec_member", Role.TEC_MEMBER),
    "world_bank": persona("world_bank", Role.WORLD_BANK),
    "approver": persona("approver", Role.PKSF_APPROVER),
    "verifier": persona("verifier", Role.VERIFIER),
    "verifier_of_a_po": persona("verifier_of_a_po", Role.VERIFIER, po=OWN_PO),
    # The PMU specialists (issue 13), and those roles held by a PO's staff.
    "es": persona("es", Role.PMU_OFFICER, Role.ES_OFFICER),
    "es_only": persona("es_only", Role.ES_OFFICER),
    "es_of_a_po": persona("es_of_a_po", Role.PO_STAFF, Role.ES_OFFICER, po=OWN_PO),
    "gfp_own": persona("gfp_own", Role.PO_STAFF, Role.GRIEVANCE_FOCAL_POINT, po=OWN_PO),
    "gfp_other": persona("gfp_other", Role.PO_STAFF, Role.GRIEVANCE_FOCAL_POINT, po=OTHER_PO),
    "gfp_pmu": persona("gfp_pmu", Role.PMU_OFFICER, Role.GRIEVANCE_FOCAL_POINT),
    "seah_pmu": persona("seah_pmu", Role.PMU_OFFICER, Role.SEAH_FOCAL_POINT),
    # PKSF finance (issue 14), and the role held by a PO's staff (who sees only the PO's money).
    "finance": persona("finance", Role.FINANCE_OFFICER),
    "finance_of_a_po": persona("finance_of_a_po", Role.PO_STAFF, Role.FINANCE_OFFICER, po=OWN_PO),
}


def _independent(p: Persona) -> bool:
    """A PMU officer or a verifier who belongs to no PO."""
    return bool(p.roles & {Role.PMU_OFFICER, Role.VERIFIER}) and p.partner_organization_id is None


ES_FOLLOW_UP = {Role.PMU_OFFICER, Role.ES_OFFICER}


# What each rule's `who` check means for these personas (beyond the role, which is checked first).
WHO_MEANS: dict[str, Callable[[Persona], bool]] = {
    # Any PMU officer, or the TEC member presiding over the proposal's agenda item: its acting chair
    # when one is named, else the meeting's chair; neither with a declared conflict on it (none here;
    # conflicts and the acting chair are in tests/subprojects/test_evaluation_integrity.py).
    "chair_or_pmu": lambda p: Role.PMU_OFFICER in p.roles or (Role.TEC_MEMBER in p.roles and p.chairs),
    "outside_any_po": _independent,
    # The member whose score sheet it is.
    "sheet_owner": lambda p: p.pk == MEMBER_PK,
    # Incidents: the PMU's side, i.e. a PMU or E&S officer belonging to no PO (a PO never follows up its
    # own incidents, even with an E&S officer of its own).
    "pmu_side": lambda p: bool(p.roles & ES_FOLLOW_UP) and p.partner_organization_id is None,
    # The root cause: the incident's own PO staff, or the PMU's side.
    "own_po_or_pmu": lambda p: (
        (bool(p.roles & ES_FOLLOW_UP) and p.partner_organization_id is None)
        or (Role.PO_STAFF in p.roles and p.partner_organization_id == OWN_PO)
    ),
    # The E&S review: an E&S officer of the PMU (belonging to no PO).
    "es_officer_outside_any_po": lambda p: p.partner_organization_id is None,
    # ME screening: the staff of the ME's own PO, or the PMU (a PMU or E&S officer of no PO).
    "screener": lambda p: (
        p.partner_organization_id == OWN_PO
        if p.partner_organization_id is not None
        else bool(p.roles & {Role.PMU_OFFICER, Role.ES_OFFICER})
    ),
    # A grievance at its PO's tier (tier 1, the PO having a focal point of its own): that PO's focal
    # points handle it, nobody else (tiers 2 and 3 are the PMU's: tests/grievances/test_handling.py).
    "handles_tier": lambda p: Role.GRIEVANCE_FOCAL_POINT in p.roles and p.partner_organization_id == OWN_PO,
    # Money (issue 14): the PMU's side of money, i.e. belonging to no PO (the role is checked first).
    "belongs_to_no_po": lambda p: p.partner_organization_id is None,
    # IFRs: the PMU's side (belonging to no PO); the review also never by the report's preparer (a
    # report built here has none; tests/finance/test_ifr.py refuses the preparer).
    "ifr_reviewer": lambda p: p.partner_organization_id is None,
    "ifr_pmu_side": lambda p: p.partner_organization_id is None,
}


# --- The expected tables (the SPEC's lifecycle) ---------------------------------------------------


@dataclass(frozen=True)
class Expect:
    sources: frozenset[str]
    target: str
    roles: frozenset[Role]
    po_owned: bool = False
    who: str = ""  # a key of WHO_MEANS
    by_portal: bool = False

    def allows(self, person: Persona | None) -> bool:
        if person is None:
            return self.by_portal
        if not person.is_authenticated or not person.roles & self.roles:
            return False
        if self.po_owned and person.partner_organization_id != OWN_PO:
            return False
        return not self.who or WHO_MEANS[self.who](person)


# The target of an action that leaves the object in the state it was taken from.
SAME = "(the state it is taken from)"


def expect(sources, target, roles, **kwargs) -> Expect:
    return Expect(frozenset(sources), target, frozenset(roles), **kwargs)


def _owned(model: type[Model], state: str) -> Model:
    """An unsaved instance in `state`, owned by OWN_PO when the model has a PO."""
    obj = model(**{lifecycle.lifecycle_of(model).state_field: state})
    if any(f.name == "partner_organization" for f in model._meta.concrete_fields):
        obj.partner_organization_id = OWN_PO
    return obj


@dataclass(frozen=True)
class ModelExpectation:
    rules: dict[str, Expect]
    # Builds the unsaved object in a state (owned by OWN_PO); the default suits a model whose owner is
    # its own `partner_organization`.
    make: Callable[[type[Model], str], Model] = field(default=_owned)


PMU = {Role.PMU_OFFICER}
PO = {Role.PO_STAFF}
TEC_OR_PMU = {Role.TEC_MEMBER, Role.PMU_OFFICER}
WB = {Role.WORLD_BANK}
APPROVER = {Role.PKSF_APPROVER}
CHECKERS = {Role.PMU_OFFICER, Role.VERIFIER}


def _proposal_on_an_agenda(model: type[Model], state: str) -> Model:
    """A proposal on the agenda of a meeting chaired by `tec_chair`, without the database: the
    agenda is given as prefetched, as `current_agenda_item` reads it from list pages."""
    proposal = _owned(model, state)
    meeting = TecMeeting(number=1, chair_id=CHAIR_PK, held_on=datetime(2025, 1, 15, 10, tzinfo=UTC))
    proposal._prefetched_objects_cache = {"agenda_items": [AgendaItem(meeting=meeting, position=1)]}
    return proposal


def _of_an_enterprise(model: type[Model], state: str) -> Model:
    """A record of an enterprise of OWN_PO (its owner is the enterprise's PO)."""
    obj = _owned(model, state)
    obj.enterprise = Enterprise(partner_organization_id=OWN_PO)
    return obj


def _sheet_of_a_member(model: type[Model], state: str) -> Model:
    obj = _owned(model, state)
    obj.member_id = MEMBER_PK
    return obj


def _action_of_an_incident(model: type[Model], state: str) -> Model:
    """A corrective action of an incident of OWN_PO (its owner is the incident's PO)."""
    obj = _owned(model, state)
    obj.incident = Incident(partner_organization_id=OWN_PO)
    return obj


def _grievance_at_its_pos_tier(model: type[Model], state: str) -> Model:
    """An ordinary grievance at tier 1 of OWN_PO, which has its own focal point (told to the who
    check without the database)."""
    obj = _owned(model, state)
    obj.category = "financial"
    obj.tier = 1
    obj.__dict__["_own_handler"] = True
    return obj


FOCAL = {Role.GRIEVANCE_FOCAL_POINT, Role.SEAH_FOCAL_POINT}
HANDLES = {"who": "handles_tier"}
DECISION = {"who": "chair_or_pmu"}
INDEPENDENT = {"who": "outside_any_po"}
PO_REPORTS = {"po_owned": True, "by_portal": True}
PMU_MONEY = {Role.PMU_OFFICER, Role.FINANCE_OFFICER}
FINANCE = {Role.FINANCE_OFFICER}
NO_PO = {"who": "belongs_to_no_po"}

EXPECTED: dict[type[Model], ModelExpectation] = {
    # Issue 13: the PMU's E&S review of a high-risk proposal, decided by an E&S officer of no PO; the
    # portal sends a decided one back to pending when the proposal is submitted again.
    EsReview: ModelExpectation(
        {
            "clear": expect({"pending"}, "cleared", {Role.ES_OFFICER}, who="es_officer_outside_any_po"),
            "clear_with_conditions": expect(
                {"pending"}, "cleared_with_conditions", {Role.ES_OFFICER}, who="es_officer_outside_any_po"
            ),
            "not_clear": expect(
                {"pending"}, "not_cleared", {Role.ES_OFFICER}, who="es_officer_outside_any_po"
            ),
            "reopen": expect(
                {"cleared", "cleared_with_conditions", "not_cleared"}, "pending", set(), by_portal=True
            ),
        }
    ),
    # Issue 13: an ME's E&S screening is completed (its result computed) by the ME's PO or the PMU.
    MeScreening: ModelExpectation(
        {
            "complete": expect(
                {"draft"}, "completed", {Role.PO_STAFF, Role.PMU_OFFICER, Role.ES_OFFICER}, who="screener"
            )
        }
    ),
    # The Grievance Redress Mechanism: the focal points of the case's current tier acknowledge, resolve,
    # record the complainant's feedback (satisfied: closed; not satisfied: appealed to the next tier, or
    # closed at the last), escalate (the portal too, from tier 1 only, when overdue), close it as out of
    # scope, or change its category (only SEA/SH focal points move a case out of SEA/SH).
    Grievance: ModelExpectation(
        {
            "acknowledge": expect({"received"}, "acknowledged", FOCAL, **HANDLES),
            "resolve": expect({"acknowledged"}, "resolved", FOCAL, **HANDLES),
            "record_feedback_satisfied": expect({"resolved"}, "closed", FOCAL, **HANDLES),
            "appeal": expect({"resolved"}, "received", FOCAL, **HANDLES),
            "close_not_satisfied": expect({"resolved"}, "closed", FOCAL, **HANDLES),
            "escalate": expect({"received", "acknowledged"}, "received", FOCAL, by_portal=True, **HANDLES),
            "close_out_of_scope": expect({"received", "acknowledged"}, "closed", FOCAL, **HANDLES),
            "reclassify": expect({"received", "acknowledged", "resolved"}, SAME, FOCAL, **HANDLES),
        },
        make=_grievance_at_its_pos_tier,
    ),
    # Issue 13: a PO reports an E&S incident (the event "report"); the PMU's side (PMU or E&S officer,
    # belonging to no PO) acknowledges it, notifies serious and severe ones to the Bank (state kept),
    # closes it once its corrective actions are verified, and may reopen it; the root cause is
    # recorded by the incident's own PO or the PMU's side.
    Incident: ModelExpectation(
        {
            "acknowledge": expect({"reported"}, "under_follow_up", ES_FOLLOW_UP, who="pmu_side"),
            "notify_bank": expect({"reported", "under_follow_up"}, SAME, ES_FOLLOW_UP, who="pmu_side"),
            "record_root_cause": expect(
                {"reported", "under_follow_up"}, SAME, {Role.PO_STAFF, *ES_FOLLOW_UP}, who="own_po_or_pmu"
            ),
            "close": expect({"under_follow_up"}, "closed", ES_FOLLOW_UP, who="pmu_side"),
            "reopen": expect({"closed"}, "under_follow_up", ES_FOLLOW_UP, who="pmu_side"),
        }
    ),
    # The incident's PO reports a corrective action done (with its evidence); the PMU's side verifies
    # it or sends it back.
    CorrectiveAction: ModelExpectation(
        {
            "complete": expect({"open"}, "done", PO, po_owned=True),
            "verify": expect({"done"}, "verified", ES_FOLLOW_UP, who="pmu_side"),
            "send_back": expect({"done"}, "open", ES_FOLLOW_UP, who="pmu_side"),
        },
        make=_action_of_an_incident,
    ),
    # SPEC 3.1: the PMU opens a call; it closes at its deadline (the portal) or earlier (the PMU).
    # The PMU may reopen the scoring of its proposals (to correct a locked rubric), the call staying
    # as it is, whether open or closed.
    Call: ModelExpectation(
        {
            "open": expect({"draft"}, "open", PMU),
            "close": expect({"open"}, "closed", PMU, by_portal=True),
            "reopen_scoring": expect({"open", "closed"}, SAME, PMU),
        }
    ),
    # SPEC 3.2: the PO submits its concept note; the PMU reviews, shortlists, rejects or returns it.
    ConceptNote: ModelExpectation(
        {
            "submit": expect({"draft"}, "submitted", PO, po_owned=True),
            "start_review": expect({"submitted"}, "under_review", PMU),
            "shortlist": expect({"under_review"}, "shortlisted", PMU),
            "reject": expect({"under_review"}, "rejected", PMU),
            "return_for_revision": expect({"submitted", "under_review"}, "draft", PMU),
        }
    ),
    # SPEC 3.3-3.5: the invited PO writes and submits; the TEC evaluates (the chair or the PMU records
    # the committee's decision); the World Bank gives its no objection; PKSF approves and awards.
    Proposal: ModelExpectation(
        {
            "start": expect({"invited"}, "draft", PO, po_owned=True),
            "submit": expect({"draft"}, "submitted", PO, po_owned=True),
            "start_evaluation": expect({"submitted"}, "under_evaluation", PMU),
            "recommend": expect({"under_evaluation"}, "recommended", TEC_OR_PMU, **DECISION),
            "recommend_with_conditions": expect(
                {"under_evaluation"}, "recommended_with_conditions", TEC_OR_PMU, **DECISION
            ),
            "request_revision": expect({"under_evaluation"}, "revision_requested", TEC_OR_PMU, **DECISION),
            "not_recommend": expect({"under_evaluation"}, "not_recommended", TEC_OR_PMU, **DECISION),
            "revise": expect({"revision_requested"}, "draft", PO, po_owned=True),
            "no_objection": expect({"recommended", "recommended_with_conditions"}, "no_objection", WB),
            "object": expect({"recommended", "recommended_with_conditions"}, "objection", WB),
            "approve": expect({"no_objection"}, "approved", APPROVER),
            "reject": expect({"no_objection"}, "rejected", APPROVER),
            "award": expect({"approved"}, "awarded", APPROVER),
        },
        make=_proposal_on_an_agenda,
    ),
    # SPEC 3.6: the PMU suspends, resumes, completes or cancels an awarded sub-project.
    SubProject: ModelExpectation(
        {
            "suspend": expect({"active"}, "suspended", PMU),
            "resume": expect({"suspended"}, "active", PMU),
            "complete": expect({"active"}, "completed", PMU),
            "cancel": expect({"active", "suspended"}, "cancelled", PMU),
        }
    ),
    # Each TEC member submits their own score sheet; only the portal puts it back to draft, when the
    # PMU reopens the call's scoring.
    ScoreSheet: ModelExpectation(
        {
            "submit": expect({"draft"}, "submitted", {Role.TEC_MEMBER}, who="sheet_owner"),
            "reopen": expect({"submitted"}, "draft", set(), by_portal=True),
        },
        make=_sheet_of_a_member,
    ),
    # SPEC 5: an independent checker (PMU or verifier, belonging to no PO) records what a visit found.
    VerificationCheck: ModelExpectation(
        {
            "confirm": expect({"pending"}, "confirmed", CHECKERS, **INDEPENDENT),
            "partly": expect({"pending"}, "partly", CHECKERS, **INDEPENDENT),
            "not_found": expect({"pending"}, "not_found", CHECKERS, **INDEPENDENT),
        }
    ),
    # An adoption reported by the PO counts once an independent checker verifies it.
    Adoption: ModelExpectation(
        {"verify": expect({"reported", "not_independent"}, "verified", CHECKERS, **INDEPENDENT)},
        make=_of_an_enterprise,
    ),
    # The facility's PO reports its status (any status may follow any other, the portal too for a
    # command-line import); an independent checker confirms it operating.
    CommonServiceFacility: ModelExpectation(
        {
            "start_construction": expect({"planned", "operational"}, "under_construction", PO, **PO_REPORTS),
            "open": expect({"planned", "under_construction"}, "operational", PO, **PO_REPORTS),
            "replan": expect({"under_construction", "operational"}, "planned", PO, **PO_REPORTS),
            "confirm_operational": expect({"operational"}, "operational", CHECKERS, **INDEPENDENT),
        }
    ),
    # The worker moves an import job (the sweeper fails one whose worker died); the PO's own staff ask
    # for the import of a checked file, retry a failed job, and cancel one not yet imported.
    ImportJob: ModelExpectation(
        {
            "check": expect({"pending"}, "validating", set(), by_portal=True),
            "pass_check": expect({"validating"}, "validated", set(), by_portal=True),
            "find_errors": expect({"validating", "committing"}, "invalid", set(), by_portal=True),
            "commit": expect({"validated"}, "committing", PO, po_owned=True),
            "finish": expect({"committing"}, "done", set(), by_portal=True),
            "fail": expect({"validating", "committing"}, "failed", set(), by_portal=True),
            "retry": expect({"failed"}, "pending", PO, po_owned=True),
            "cancel": expect({"failed", "validated", "invalid"}, "cancelled", PO, po_owned=True),
        }
    ),
    # The PMU decides on a suspected duplicate pair, and may reopen its decision.
    DuplicateSuspect: ModelExpectation(
        {
            "confirm": expect({"suspected"}, "confirmed", PMU),
            "dismiss": expect({"suspected"}, "dismissed", PMU),
            "reopen": expect({"confirmed", "dismissed"}, "suspected", PMU),
        }
    ),
    # The PMU forms a cluster from a suggestion, or dismisses it.
    ClusterSuggestion: ModelExpectation(
        {
            "accept": expect({"proposed"}, "accepted", PMU),
            "dismiss": expect({"proposed"}, "dismissed", PMU),
        }
    ),
    # The PO prepares an enterprise's RECP profile; the PMU validates or returns it, and may reopen it.
    RecpProfile: ModelExpectation(
        {
            "prepare": expect({"draft"}, "prepared", PO, po_owned=True),
            "validate": expect({"prepared"}, "validated", PMU),
            "return": expect({"prepared"}, "draft", PMU),
            "reopen": expect({"validated"}, "draft", PMU),
        },
        make=_of_an_enterprise,
    ),
    # Monitoring runs and report jobs: only the portal (the worker) moves them.
    AggregationRun: ModelExpectation(
        {
            "start": expect({"queued"}, "running", set(), by_portal=True),
            "skip": expect({"queued"}, "skipped", set(), by_portal=True),
            "succeed": expect({"running"}, "succeeded", set(), by_portal=True),
            "fail": expect({"running"}, "failed", set(), by_portal=True),
        }
    ),
    ReportJob: ModelExpectation(
        {
            "start": expect({"queued"}, "running", set(), by_portal=True),
            "succeed": expect({"running"}, "succeeded", set(), by_portal=True),
            "fail": expect({"running"}, "failed", set(), by_portal=True),
        }
    ),
    # Issue 15: large list downloads written in the background; only the portal (the worker) moves them.
    ExportJob: ModelExpectation(
        {
            "start": expect({"queued"}, "running", set(), by_portal=True),
            "succeed": expect({"running"}, "ready", set(), by_portal=True),
            "fail": expect({"running"}, "failed", set(), by_portal=True),
        }
    ),
    # Issue 14: the sub-project's PO reports a milestone of its release schedule done (with its
    # evidence); the PMU's side (a PMU or finance officer belonging to no PO) may send it back.
    Milestone: ModelExpectation(
        {
            "report": expect({"planned"}, "reported", PO, po_owned=True),
            "send_back": expect({"reported"}, "planned", PMU_MONEY, **NO_PO),
        }
    ),
    # Issue 14: a PO's request for a tranche (the event "request") is checked by a PMU officer, approved
    # by PKSF finance (a finance officer of no PO, and not whoever checked it: a guard), which then
    # records the transfer; the PMU's side may return it until it is transferred; the PO may withdraw
    # it while it is only requested.
    Release: ModelExpectation(
        {
            "check": expect({"requested"}, "checked", PMU, **NO_PO),
            "approve": expect({"checked"}, "approved", FINANCE, **NO_PO),
            "record_transfer": expect({"approved"}, "transferred", FINANCE, **NO_PO),
            "return": expect({"requested", "checked", "approved"}, "returned", PMU_MONEY, **NO_PO),
            "withdraw": expect({"requested"}, "withdrawn", PO, po_owned=True),
        }
    ),
    # Issue 14: a sub-project's quarterly spending report, submitted by its PO's staff (opened as the
    # event "create"; a guard wants a line and a quarter begun); the PMU's side (a PMU or finance
    # officer belonging to no PO) accepts it or returns it to draft, with a comment, for correction.
    SpendingReport: ModelExpectation(
        {
            "submit": expect({"draft"}, "submitted", PO, po_owned=True),
            "accept": expect({"submitted"}, "accepted", PMU_MONEY, **NO_PO),
            "return": expect({"submitted"}, "draft", PMU_MONEY, **NO_PO),
        }
    ),
    # Issue 14 (SPEC 8): PKSF finance prepares the quarter's IFR (event "create"); a PMU officer or
    # another finance officer of the PMU reviews it (never its preparer); finance finalises it (figures
    # frozen) and records it sent to the Bank; a reviewed one may be sent back to draft (with a comment).
    FinancialReport: ModelExpectation(
        {
            "review": expect({"draft"}, "reviewed", PMU_MONEY, who="ifr_reviewer"),
            "send_back": expect({"reviewed"}, "draft", PMU_MONEY, who="ifr_pmu_side"),
            "finalise": expect({"reviewed"}, "finalised", FINANCE, who="ifr_pmu_side"),
            "send": expect({"finalised"}, "sent", FINANCE, who="ifr_pmu_side"),
        }
    ),
}


# --- The checks -----------------------------------------------------------------------------------


def _label(model: type[Model]) -> str:
    return model._meta.label


def test_every_registered_table_has_an_expected_table():
    registered = lifecycle.registered()
    missing = sorted(_label(model) for model in registered if model not in EXPECTED)
    assert not missing, (
        f"no expected rule table for {', '.join(missing)}: write the SPEC's lifecycle of each of them "
        "in EXPECTED in tests/core/test_rule_tables.py"
    )
    gone = sorted(_label(model) for model in EXPECTED if model not in registered)
    assert not gone, f"expected rule tables that are no longer registered: {', '.join(gone)}"


def _as_data(rule: lifecycle.Rule) -> dict:
    return {
        "sources": set(rule.sources),
        "target": SAME if rule.target == lifecycle.SAME_STATE else rule.target,
        "roles": set(rule.roles),
        "po_owned": rule.po_owned,
        "who": rule.who,
        "by_portal": rule.by_portal,
    }


def _expected_as_data(expected: Expect) -> dict:
    return {
        "sources": set(expected.sources),
        "target": expected.target,
        "roles": set(expected.roles),
        "po_owned": expected.po_owned,
        "who": expected.who,
        "by_portal": expected.by_portal,
    }


CHECKED = [model for model in EXPECTED if model in lifecycle.registered()]


@pytest.mark.parametrize("model", CHECKED, ids=_label)
def test_the_registered_table_is_the_expected_one(model):
    registered = {rule.action: _as_data(rule) for rule in lifecycle.rules_for(model)}
    expected = {action: _expected_as_data(e) for action, e in EXPECTED[model].rules.items()}

    assert set(registered) == set(expected), f"{_label(model)}: actions differ"
    differences = {
        action: {
            key: (registered[action][key], value)
            for key, value in expected[action].items()
            if registered[action][key] != value
        }
        for action in expected
        if registered[action] != expected[action]
    }
    assert not differences, (
        f"{_label(model)}: rules differ from the expected table (got, expected): {differences}"
    )
    for e in EXPECTED[model].rules.values():
        assert not e.who or e.who in WHO_MEANS, (
            f"{_label(model)}: say what `who` {e.who!r} means in WHO_MEANS"
        )


def _behaviour_cases():
    for model in CHECKED:
        states = list(lifecycle.lifecycle_of(model).states)
        for state in states:
            for name in PERSONAS:
                yield pytest.param(model, state, name, id=f"{model.__name__}-{state}-{name}")


@pytest.mark.parametrize(("model", "state", "persona_name"), list(_behaviour_cases()))
def test_exactly_the_expected_actions_are_available(model, state, persona_name):
    """The actions this persona may take on the object in this state: exactly the expected ones.

    A rule removed fails the cases where it was expected (allowed); a rule that starts from one more
    state, admits one more role, or loses its PO or `who` check fails a case where it was not
    (refused)."""
    expectation = EXPECTED[model]
    user = PERSONAS[persona_name]
    obj = expectation.make(model, state)
    table = lifecycle.lifecycle_of(model)
    if any(e.po_owned for e in expectation.rules.values()):
        assert table.owner(obj) == OWN_PO, f"{_label(model)}: `make` must build an object owned by OWN_PO"

    expected = {action for action, e in expectation.rules.items() if state in e.sources and e.allows(user)}
    available = {rule.action for rule in lifecycle.available_rules(user, obj)}

    assert available == expected, (
        f"{_label(model)} in {state!r}, {persona_name}: "
        f"refused although expected {sorted(expected - available)}, "
        f"allowed although not expected {sorted(available - expected)}"
    )
    # The two halves separately: who may act (whatever the state), and from which states.
    for rule in table.rules:
        e = expectation.rules.get(rule.action)
        if e is None:
            continue  # an unexpected action: reported by the table comparison and above
        assert lifecycle.may_act(user, obj, rule) == e.allows(user), (
            f"{_label(model)}.{rule.action}, {persona_name}: may_act should be {e.allows(user)}"
        )
        should = "allowed" if state in e.sources else "refused"
        assert (state in rule.sources) == (state in e.sources), (
            f"{_label(model)}.{rule.action} from {state!r}: should be {should}"
        )


def test_the_personas_cover_every_role_and_who_check():
    """The generated cases mean something only if someone holds each role, inside and outside the
    owning PO, and each `who` check both admits and refuses someone of the rule's roles."""
    held = {role for p in PERSONAS.values() if p for role in p.roles}
    assert held == set(Role)
    for model in CHECKED:
        for action, e in EXPECTED[model].rules.items():
            assert any(e.allows(p) for p in PERSONAS.values()), (
                f"{_label(model)}.{action}: no one may take it"
            )
            if e.po_owned or e.who:
                with_role = [p for p in PERSONAS.values() if p and p.roles & e.roles]
                assert not all(e.allows(p) for p in with_role), (
                    f"{_label(model)}.{action}: its PO or `who` check refuses no persona"
                )
