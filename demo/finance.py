"""Demo money in which the figures add up (issue 14): release schedules, milestones and releases to the
POs; quarterly spending against the budget lines; the ME loans' schedules and repayments; exchange
rates, funds received and interim financial reports; the PO scorecards. Each part in its own module."""

from demo import (
    finance_ifr,
    finance_loans,
    finance_rates,
    finance_releases,
    finance_scorecards,
    finance_spending,
)


def seed(stdout) -> None:
    finance_rates.seed(stdout)
    finance_releases.seed(stdout)
    finance_spending.seed(stdout)
    finance_loans.seed(stdout)
    finance_ifr.seed(stdout)
    finance_scorecards.seed(stdout)
