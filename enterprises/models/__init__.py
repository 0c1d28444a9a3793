"""Microenterprises and their field data (SPEC 5): the registry, financial support, trainings, RECP
practices and profiles, environmental KPIs, common service facilities and clusters.

Contracts the results aggregation (monitoring) relies on, "as of a date D":
- `Enterprise.objects.countable()`: the MEs that count (confirmed duplicates excluded). Field records
  entered on a confirmed duplicate count for its original: group by `counted_enterprise()`.
- ME_FINANCED: `FinancialSupport.objects.project_financing(D)`, i.e.
  `settings.PROGRAMME_START <= disbursed_on <= D` (`before_programme()`: the rest).
- ME_CLIMATE_KNOWLEDGE: `Attendance.post_test_score > pre_test_score`, `session.held_on <= D` and
  `session.module.climate_vulnerability`.
- ME_RECP_2PLUS: >= 2 distinct `Adoption.practice` in `Adoption.objects.verified_independently(D)`
  (`awaiting_verification()`: its exact complement, what a checker still has to verify).
- ME_KPI_TRACKING: for one KPI, a reading with `is_baseline` and a later `period`, both `<= D`.
- RECP_PROFILES_VALIDATED: `RecpProfile.status == validated` and `validated_on <= D`.
- CSF_ESTABLISHED: `CommonServiceFacility.status == operational`, `opened_on <= D` and
  `operational_confirmed_on <= D` (`awaiting_confirmation()`: operational, not yet confirmed).
- Breakdowns: `Enterprise.sub_sector` (→ sector → business area), `division`, `district`,
  `partner_organization`, `owner_gender`, `climate_vulnerable` (stored, indexed).

Every queryset starts from `visible_to(user)`: PO staff see their own PO's records, programme-wide
roles see everything, anyone else (TEC members) sees nothing.

The package splits by concern: common.py (shared field options and checks), registry.py (Enterprise),
finance.py (financial support), training.py, recp.py (practices, adoptions, profiles), environment.py
(KPIs and readings), facilities.py (common service facilities and clusters), duplicates.py and
imports.py (spreadsheet import jobs).
"""

from enterprises.models.common import *  # noqa: F403
from enterprises.models.common import __all__ as _common_all
from enterprises.models.duplicates import *  # noqa: F403
from enterprises.models.duplicates import __all__ as _duplicates_all
from enterprises.models.environment import *  # noqa: F403
from enterprises.models.environment import __all__ as _environment_all
from enterprises.models.facilities import *  # noqa: F403
from enterprises.models.facilities import __all__ as _facilities_all
from enterprises.models.finance import *  # noqa: F403
from enterprises.models.finance import __all__ as _finance_all
from enterprises.models.imports import *  # noqa: F403
from enterprises.models.imports import __all__ as _imports_all
from enterprises.models.recp import *  # noqa: F403
from enterprises.models.recp import __all__ as _recp_all
from enterprises.models.registry import *  # noqa: F403
from enterprises.models.registry import __all__ as _registry_all
from enterprises.models.training import *  # noqa: F403
from enterprises.models.training import __all__ as _training_all

__all__ = [
    *_common_all,
    *_registry_all,
    *_finance_all,
    *_training_all,
    *_recp_all,
    *_environment_all,
    *_facilities_all,
    *_duplicates_all,
    *_imports_all,
]
