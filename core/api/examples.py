"""Realistic examples of the main operations' bodies, for the schema (`/api/schema/`, `/api/docs/`) and
the clients generated from it, drawn from the demo programme.

Examples of a body used by one or two operations are attached to its serializer
(`@extend_schema_serializer`); those of bodies many operations share (a proposal, a concept note, an
enterprise, a transition's comment) to the main operations only (`extend_schema_view` at the end of
their views module), so the schema does not repeat them on every transition. All are checked against
the schema by tests/security/test_schema_truth.py: when a serializer changes, change its example too."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample

# --- Token ----------------------------------------------------------------------------------------

TOKEN = [
    OpenApiExample(
        "Sign in",
        request_only=True,
        value={"username": "kpuk.field.officer", "password": "an-example-password"},
    ),
    OpenApiExample(
        "Sign in with two-factor authentication",
        request_only=True,
        value={"username": "pmu.officer", "password": "an-example-password", "otp_code": "492039"},
    ),
    OpenApiExample(
        "Token",
        response_only=True,
        value={
            "token": "3f6b0c8e5d2a4f1b9c7e6d5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c",
            "expiry": "2025-08-30T10:15:00+06:00",
        },
    ),
]

# --- Concept notes and proposals ------------------------------------------------------------------

_NOTE = {
    "call": 2,
    "title": "Restaurant and bakery waste management in Barishal city",
    "sector": "service",
    "sub_sectors": ["food-service"],
    "target_districts": ["BD1006"],
    "target_upazilas": [],
    "cluster": "Enterprises of the sub-sector within about 5 km in Barishal.",
    "mes_targeted": 900,
    "women_led_mes_targeted": 370,
    "problem": "Enterprises of the cluster lose income to floods and waste valuable materials.",
    "environmental_issues": "Untreated waste, high energy use, exposure to floods and heat.",
    "proposed_recp_practices": "Waste segregation and reuse, efficient equipment, flood-proofing.",
    "proposed_csfs": "A shared service centre for the cluster.",
    "estimated_budget": "150000000.00",
}

_DRAFT_NOTE = {
    "id": 16,
    "reference": "SPCN-0016",
    "partner_organization": "PO-008",
    **_NOTE,
    "business_area": "service",
    "status": "draft",
    "status_changed_at": "2025-02-03T11:20:00+06:00",
    "submitted_at": None,
    "created_at": "2025-02-03T11:20:00+06:00",
    "updated_at": "2025-02-03T11:20:00+06:00",
    "attachments": [],
    "available_actions": [
        {
            "action": "submit",
            "label": "Submit to PMU",
            "comment_required": False,
            "url": "/api/v1/concept-notes/16/submit/",
        }
    ],
}

CONCEPT_NOTE = [
    OpenApiExample("A concept note", request_only=True, value=_NOTE),
    OpenApiExample("A draft concept note", response_only=True, value=_DRAFT_NOTE),
]

CONCEPT_NOTE_SUBMIT = [
    OpenApiExample(
        "With a comment",
        request_only=True,
        value={"comment": "Checked by the PO's focal person; the cluster map is attached."},
    ),
    OpenApiExample("Without a comment", request_only=True, value={}),
    OpenApiExample(
        "The submitted concept note",
        response_only=True,
        value={
            **_DRAFT_NOTE,
            "status": "submitted",
            "status_changed_at": "2025-02-10T16:05:00+06:00",
            "submitted_at": "2025-02-10T16:05:00+06:00",
            "updated_at": "2025-02-10T16:05:00+06:00",
            "available_actions": [],
        },
    ),
]

INVITE = [
    OpenApiExample(
        "Invite a full proposal",
        request_only=True,
        value={
            "deadline": "2025-04-30T17:00:00+06:00",
            "comment": "Shortlisted: strong cluster focus; please detail the common service facility.",
        },
    )
]

OBJECTIVES = "Help 1,200 microenterprises (300 women-led) adopt climate-resilient RECP practices."

PROPOSAL_UPDATE = [
    OpenApiExample(
        "Complete the proposal",
        request_only=True,
        summary="Replace the nested lists (rows keep their identity when sent back with their id)",
        value={
            "title": "Cleaner salt processing in Cox's Bazar",
            "sector": "food-processing",
            "sub_sectors": ["salt-processing"],
            "target_districts": ["BD2015", "BD2022"],
            "objectives": OBJECTIVES,
            "duration_months": 36,
            "activities": [
                {"description": "Baseline survey and ME selection", "start_month": 1, "end_month": 4},
                {"id": 20, "description": "RECP assessments and profiles", "start_month": 3, "end_month": 12},
            ],
            "budget_lines": [
                {
                    "category": "me_finance",
                    "description": "Loans to microenterprises for RECP investments",
                    "amount": "104500000.00",
                    "financier": "world_bank",
                },
                {
                    "category": "training",
                    "description": "Climate vulnerability and RECP trainings",
                    "amount": "15200000.00",
                    "financier": "pksf",
                },
            ],
            "committed_results": [{"indicator": "ME_FINANCED", "target": 1200}],
            "risk_category": "substantial",
            "exclusion_list_checked": True,
            "exclusions_found": [],
            "esmp_measures": [
                {
                    "risk": "Brine run-off into mangrove and shrimp areas",
                    "measure": "Lined evaporation beds and a brine return channel",
                    "responsible": "Salt mill owners",
                    "timing": "Before the first season",
                }
            ],
        },
    )
]

AWARDED_PROPOSAL = OpenApiExample(
    "An awarded proposal",
    response_only=True,
    value={
        "id": 4,
        "reference": "SPP-0004",
        "partner_organization": "PO-004",
        "concept_note": 4,
        "call": 1,
        "deadline": "2024-04-25T17:00:00+06:00",
        "title": "Cleaner salt processing in Cox's Bazar",
        "business_area": "manufacturing",
        "sector": "food-processing",
        "sub_sectors": ["salt-processing"],
        "target_districts": ["BD2015", "BD2022"],
        "target_upazilas": [],
        "cluster": "Enterprises of the sub-sector within about 5 km in Cox's Bazar.",
        "mes_targeted": 1200,
        "women_led_mes_targeted": 300,
        "problem": "Salt is boiled in open furnaces burning wood; storms flood the salt beds.",
        "environmental_issues": "Deforestation for fuelwood, smoke, brine discharge.",
        "proposed_recp_practices": "Efficient furnaces, lined salt beds, iodisation quality control.",
        "proposed_csfs": "A shared refining and iodisation unit.",
        "objectives": OBJECTIVES,
        "duration_months": 36,
        "activities": [
            {
                "id": 19,
                "description": "Baseline survey and ME selection",
                "start_month": 1,
                "end_month": 4,
            }
        ],
        "budget_lines": [
            {
                "id": 19,
                "category": "me_finance",
                "description": "Loans to microenterprises for RECP investments",
                "amount": "104500000.00",
                "financier": "world_bank",
            },
            {
                "id": 21,
                "category": "training",
                "description": "Climate vulnerability and RECP trainings",
                "amount": "15200000.00",
                "financier": "pksf",
            },
        ],
        "budget_totals": {
            "world_bank": "104500000.00",
            "pksf": "15200000.00",
            "po": "0.00",
            "total": "119700000.00",
        },
        "committed_results": [{"id": 19, "indicator": "ME_FINANCED", "target": 1200}],
        "risk_category": "substantial",
        "exclusion_list_checked": True,
        "exclusions_found": [],
        "mitigation_measures": "ESMP with PPE, waste handling plans and quarterly monitoring.",
        "esmp_measures": [
            {
                "id": 3,
                "risk": "Brine run-off into mangrove and shrimp areas",
                "measure": "Lined evaporation beds and a brine return channel",
                "responsible": "Salt mill owners",
                "timing": "Before the first season",
            }
        ],
        "doe_clearance_required": True,
        "es_review": None,
        "status": "awarded",
        "status_changed_at": "2024-08-29T11:00:00+06:00",
        "submitted_at": "2024-04-23T11:00:00+06:00",
        "no_objection_reference": "WB/SMART/NOL/2024/004",
        "no_objection_date": "2024-06-24",
        "sub_project": 4,
        "attachments": [
            {
                "id": 2,
                "original_name": "ESMP SPP-0004.pdf",
                "description": "Environmental and social management plan",
                "is_esmp": True,
                "mime_type": "application/pdf",
                "size": 184320,
                "uploaded_at": "2024-04-20T15:02:11+06:00",
                "download_url": "/api/v1/attachments/2/download/",
                "updated_at": "2024-04-20T15:02:11+06:00",
            }
        ],
        "available_actions": [],
        "updated_at": "2024-08-29T11:00:00+06:00",
    },
)

AWARD = [
    OpenApiExample(
        "Award",
        request_only=True,
        value={
            "agreement_number": "PKSF/SMART/SPA/2024/004",
            "award_date": "2024-08-29",
            "start_date": "2024-09-01",
            "end_date": "2027-08-31",
            "budget_world_bank": "133000000.00",
            "budget_pksf": "38000000.00",
            "budget_po": "19000000.00",
            "comment": "Approved by the PKSF approver on 28 August.",
        },
    ),
    AWARDED_PROPOSAL,
]

# --- Technical evaluation -------------------------------------------------------------------------

SCORES = [
    OpenApiExample(
        "Submit scores",
        request_only=True,
        summary="One score per criterion of the call's rubric; `submit` locks them",
        value={
            "agenda_item": 11,
            "scores": [
                {"criterion": 7, "value": "9.00", "comment": "Clear link to the cluster's waste problem."},
                {"criterion": 8, "value": "7.00"},
                {"criterion": 9, "value": "8.50"},
            ],
            "comment": "A sound proposal; the CSF's operating model needs detail.",
            "submit": True,
        },
    ),
    OpenApiExample(
        "Save a draft",
        request_only=True,
        value={"agenda_item": 11, "scores": [{"criterion": 7, "value": "8.00"}], "submit": False},
    ),
]

SCORE_SHEET = [
    OpenApiExample(
        "A submitted score sheet",
        response_only=True,
        value={
            "id": 30,
            "agenda_item": 11,
            "member": 5,
            "status": "submitted",
            "comment": "A sound proposal; the CSF's operating model needs detail.",
            "submitted_at": "2024-07-02T14:22:00+06:00",
            "scores": [
                {"criterion": 7, "value": "9.00", "comment": "Clear link to the cluster's waste problem."},
                {"criterion": 8, "value": "7.00", "comment": ""},
                {"criterion": 9, "value": "8.50", "comment": ""},
            ],
            "total": "77.00",
            "updated_at": "2024-07-02T14:22:00+06:00",
        },
    )
]

# --- Field data -----------------------------------------------------------------------------------

_ENTERPRISE = {
    "po_code": "KPUK-00700",
    "sub_project": 4,
    "name": "Alif Salt Industries",
    "owner_name": "Jamal Ahmed",
    "owner_gender": "male",
    "phone": "+8801326148718",
    "is_formal": False,
    "trade_licence_number": "",
    "sub_sector": "salt-processing",
    "division": "BD20",
    "district": "BD2022",
    "upazila": "BD20220056",
    "latitude": "21.583417",
    "longitude": "92.015381",
    "climate_vulnerable_override": None,
    "self_employed": 2,
    "wage_employed_male": 3,
    "wage_employed_female": 0,
    "year_started": 2011,
    "registered_on": "2025-02-11",
}

ENTERPRISE = [
    OpenApiExample("A microenterprise", request_only=True, value=_ENTERPRISE),
    OpenApiExample(
        "A microenterprise",
        response_only=True,
        value={
            "id": 2800,
            "partner_organization": "PO-004",
            **_ENTERPRISE,
            "business_area": "manufacturing",
            "sector": "food-processing",
            "climate_vulnerable": True,
            "wage_employed_male_at_registration": 3,
            "wage_employed_female_at_registration": 0,
            "total_jobs": 5,
            "cluster": None,
            "is_confirmed_duplicate": False,
            "suspected_duplicate": False,
            "created_at": "2025-02-11T12:40:03+06:00",
            "updated_at": "2025-02-11T12:40:03+06:00",
        },
    ),
]

_READING = {
    "enterprise": 2800,
    "kpi": "ELECTRICITY",
    "period": "2025-03-01",
    "value": "420.700",
    "is_baseline": True,
    "source": "meter",
}

KPI_READING = [
    OpenApiExample(
        "A baseline meter reading",
        request_only=True,
        summary="Any day of the month names the month (`period` is stored as its first day)",
        value=_READING,
    ),
    OpenApiExample(
        "A reading",
        response_only=True,
        value={
            "id": 36984,
            **_READING,
            "enterprise_code": "KPUK-00700",
            "created_at": "2025-04-02T10:05:44+06:00",
            "updated_at": "2025-04-02T10:05:44+06:00",
        },
    ),
]

# --- Results framework ----------------------------------------------------------------------------


def _value(key: str, label: str, value: str) -> dict:
    return {"key": key, "label": label, "value": value, "numerator": None, "denominator": None}


INDICATOR_DETAIL = [
    OpenApiExample(
        "MEs receiving financial support",
        response_only=True,
        value={
            "code": "ME_FINANCED",
            "name": "MEs receiving financial support",
            "definition": "Distinct MEs with at least one loan or grant disbursed on or after the programme "
            "start and on or before the date.",
            "level": "pdo",
            "unit": "enterprises",
            "target": "80000.00",
            "parent": None,
            "baseline_value": "0.00",
            "baseline_date": "2023-08-01",
            "data_source": "PO disbursement records (financial support in the portal)",
            "frequency": "quarterly",
            "responsible_unit": "PO field staff; checked by the PMU",
            "milestones": [{"year": 2024, "target": "4000.00"}, {"year": 2025, "target": "20000.00"}],
            "latest": {
                "as_of": "2025-06-30",
                "requested_as_of": "2025-06-30",
                "computed_at": "2025-07-01T02:00:11+06:00",
                "value": "2686.0000",
                "target": "80000.00",
                "target_basis": "programme",
                "percent_of_target": 3.3575,
                "percent_of_programme_target": None,
            },
            "updated_at": "2025-01-12T09:30:00+06:00",
            "breakdowns": {
                "business_area": [_value("manufacturing", "Manufacturing and processing", "2686.0000")],
                "po": [
                    _value("PO-001", "PO-001 · PUS", "675.0000"),
                    _value("PO-004", "PO-004 · KPUK", "670.0000"),
                ],
                "gender": [
                    _value("male", "male", "1661.0000"),
                    _value("female", "female", "1022.0000"),
                    _value("third_gender", "third gender", "3.0000"),
                ],
                "climate": [
                    _value("true", "climate-vulnerable areas", "1937.0000"),
                    _value("false", "other areas", "749.0000"),
                ],
            },
            "history": [
                {"as_of": "2025-03-31", "value": "1540.0000"},
                {"as_of": "2025-06-30", "value": "2686.0000"},
            ],
        },
    )
]
