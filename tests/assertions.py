"""Assertions shared by the tests of every app."""

from __future__ import annotations

from core.errors import FORBIDDEN, ActionRefused


def assert_refused(refusal, status: int, *, code: str | None = None) -> None:
    """Assert a refusal the way its users see it, whichever way it came:

    - an `ActionRefused` (or what `pytest.raises` caught): 403 means `Forbidden` (about who asks),
      409 any other refusal (about what or when);
    - a page's or the API's response: its status; the API says a 403 refusal's code: `forbidden`
      (a refused action), `permission_denied` (the view's permissions).

    `code`, when given, is the refusal's own code as well (e.g. "wrong_state")."""
    exc = getattr(refusal, "value", refusal)
    if isinstance(exc, ActionRefused):
        assert status in {403, 409}, f"an ActionRefused is a 403 or a 409, not a {status}"
        assert exc.is_forbidden == (status == 403), f"refused with {exc.code!r} ({exc}), expected a {status}"
        assert code is None or exc.code == code, f"refused with {exc.code!r} ({exc}), expected {code!r}"
        return
    assert refusal.status_code == status, f"answered {refusal.status_code}, expected {status}"
    body = _json(refusal)
    if isinstance(body, dict) and "code" in body and status == 403:
        assert body["code"] in (FORBIDDEN, "permission_denied"), body
    if code is not None:
        assert isinstance(body, dict), f"no JSON body to read the code {code!r} from"
        assert body.get("code") == code, body


def _json(response):
    if not response.get("Content-Type", "").startswith("application/json"):
        return None
    return response.json()


def field_errors(response) -> dict[str, list[str]]:
    """The messages of an API error answer by field (its `fields`, in the one error body of
    smart_portal.api): `{"po_code": ["..."], "non_field_errors": ["..."]}`."""
    body = response.json()
    assert set(body) >= {"code", "detail", "fields"}, body
    return {name: [problem["message"] for problem in problems] for name, problems in body["fields"].items()}
