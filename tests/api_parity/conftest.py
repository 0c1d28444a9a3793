"""Fixtures of the parity tests: the sub-projects' (calls, proposals, meetings, agendas) and the field
data's (sub-projects, enterprises, uploads in a temporary folder) reused."""

from tests.enterprises.conftest import _media_in_tmp, me_one, me_two, sp_one, sp_two  # noqa: F401
from tests.finance.conftest import finance  # noqa: F401
from tests.subprojects.conftest import (  # noqa: F401  (fixtures)
    draft_note,
    make_meeting,
    note_in,
    on_agenda,
    open_call,
    proposal_in,
)
