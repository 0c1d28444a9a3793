"""Demo verification: the sample of the last complete quarter, drawn by `pmu` with a fixed seed, and
the `verifier`'s results on part of it (mostly confirmed, some partly, a few not found), recorded
through the shared engine like any visit, so the rounds, confirmation rates and flags have something
to show. Safe to run again: a quarter that already has a round is left as it is."""

from __future__ import annotations

import random

from core.models import User
from enterprises.validation import today
from subprojects import workflow
from verification import services
from verification.models import CheckStatus, VerificationRound

DEMO_SEED = 20240801
# Of the checks visited: confirmed, partly confirmed, not found.
OUTCOMES = (("confirm", 0.85), ("partly", 0.09), ("not_found", 0.06))
VISITED_SHARE = 0.6
FINDINGS = {
    "partly": "The practice is in place but not used every day: the owner runs the old method on busy days.",
    "not_found": "The owner says the equipment was sold last month; nothing of the practice was seen.",
}


def _last_complete_quarter() -> tuple[int, int]:
    now = today()
    quarter = (now.month - 1) // 3  # the quarter before the current one (0: Q4 of last year)
    return (now.year - 1, 4) if quarter == 0 else (now.year, quarter)


def seed(stdout) -> None:
    pmu = User.objects.filter(username="pmu").first()
    verifier = User.objects.filter(username="verifier").first()
    if pmu is None or verifier is None:
        stdout.write("  verification: the demo logins pmu and verifier are missing: no sample drawn")
        return
    year, quarter = _last_complete_quarter()
    if VerificationRound.objects.filter(year=year, quarter=quarter).exists():
        stdout.write(f"  verification: Q{quarter} {year} already has a sample")
        return
    round_ = services.draw_round(user=pmu, year=year, quarter=quarter, seed=DEMO_SEED)
    rng = random.Random(DEMO_SEED)  # noqa: S311 - demo data, not secrecy
    visited = 0
    for check in round_.checks.filter(status=CheckStatus.PENDING).order_by("pk"):
        if rng.random() > VISITED_SHARE:
            continue
        action = rng.choices([a for a, _w in OUTCOMES], weights=[w for _a, w in OUTCOMES])[0]
        workflow.apply(check, action, verifier, comment=FINDINGS.get(action, ""), visited_on=today())
        visited += 1
    stdout.write(
        f"  verification: sample of Q{quarter} {year} drawn ({round_.checks.count()} checks), "
        f"{visited} visited by the verifier"
    )
