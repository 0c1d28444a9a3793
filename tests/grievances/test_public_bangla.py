"""The public grievance pages in Bangla: lodging, the tracking code, the status lookup, a refusal, the
throttle, the layout an anonymous visitor sees and the sign-in page, chosen by the language cookie,
Accept-Language or the switcher. English stays the default. And the committed catalogue
(locale/bn/LC_MESSAGES/django.mo) is the compiled form of django.po, with every placeholder kept."""

from __future__ import annotations

import ast
import gettext
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_noop, ngettext_lazy

from grievances.models import Category, ComplainantKind, Grievance, GrievanceStatus, Tier
from tests.grievances.test_handling_fixtures import *  # noqa: F403
from tests.grievances.test_handling_fixtures import lodge

LODGE = "/grievances/lodge/"
STATUS = "/grievances/status/"
CATALOGUE = Path(django_settings.BASE_DIR) / "locale" / "bn" / "LC_MESSAGES"
BANGLA = re.compile(r"[\u0980-\u09FF]")

# Django's own messages the public form and the sign-in page show that Django's Bangla catalogue
# lacks: marked here so that makemessages keeps them in locale/bn (the portal's catalogue takes
# precedence over Django's). Never used as text; a core module would be a better home for them.
DJANGO_MESSAGES_MISSING_IN_BANGLA = (
    ngettext_lazy(
        "Ensure this value has at most %(limit_value)d character (it has %(show_value)d).",
        "Ensure this value has at most %(limit_value)d characters (it has %(show_value)d).",
        "limit_value",
    ),
    gettext_noop(
        "Please enter a correct %(username)s and password. Note that both fields may be case-sensitive."
    ),
)

# Latin words a Bangla page may still show: accepted acronyms, file types, the tracking code's
# example, and the name of the other language in the switcher.
ALLOWED_LATIN = {
    "SMART", "PO", "PMU", "PKSF", "SEA", "SH", "JPEG", "PNG", "PDF", "MB", "English",
    "ABCDE", "FGHJK", "LMNPQ", "RSTUV",
}  # fmt: skip

# English strings translated for the public pages: none may be left on a Bangla page.
ENGLISH_ON_LODGE = [
    "Lodge a grievance",
    "Anyone — a microenterprise owner",
    "You will receive a tracking code",
    "Already lodged one? Check its status.",
    "Lodge the grievance",
    "The grievance",
    "Who is complaining",
    "Organisation (PO) concerned",
    "I don't know / not a PO",
    "The partner organisation the grievance is about",
    "What is it about?",
    "Subject",
    "What happened",
    "District",
    "Documents or photos",
    "Optional: up to 3 files",
    "Lodge anonymously",
    "Your name and contact details are then not kept",
    "Name",
    "Phone",
    "Email",
    "Address",
    "Gender",
    "You are",
    "environmental or social",
    "financial or loan",
    "service quality",
    "procurement",
    "sexual exploitation, abuse or harassment",
    "other",
    "woman",
    "not stated",
    "ME owner",
    "worker",
    "neighbour or community member",
    "PO staff",
    "Leave this field empty",
    "SMART Portal",
    "Skip to content",
    "Main navigation",
    "Palli Karma-Sahayak Foundation",
    "financed by the World Bank",
    "Language",
    "Switch",
    "Bangla",
]
ENGLISH_ON_STATUS = [
    "Check the status of a grievance",
    "Grievance status",
    "Tracking code",
    "The code you received when you lodged the grievance",
    "Check",
    "Lodge a grievance",
    "SMART Portal",
]


class _Text(HTMLParser):
    """What a visitor reads: text nodes and the attributes read aloud or shown (aria-label, title,
    placeholder), without scripts and without the names of districts and POs (data, not strings)."""

    DATA_SELECTS = {"district", "partner_organization"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0
        self._select = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in {"script", "style"}:
            self._skip += 1
        if tag == "select":
            self._select = attrs.get("name") or ""
        if tag == "title":
            self.parts.append(" ")
        for name in ("aria-label", "title", "placeholder", "alt"):
            if attrs.get(name):
                self.parts.append(" " + attrs[name] + " ")

    def handle_endtag(self, tag):
        if tag in {"script", "style"}:
            self._skip -= 1
        if tag == "select":
            self._select = ""

    def handle_data(self, data):
        if self._skip:
            return
        if self._select in self.DATA_SELECTS and not BANGLA.search(data):
            return
        self.parts.append(" " + data + " ")


def visible_text(response) -> str:
    parser = _Text()
    parser.feed(response.content.decode())
    return re.sub(r"\s+", " ", "".join(parser.parts))


def assert_no_english(response, strings: list[str], data: tuple[str, ...] = ()) -> None:
    """None of `strings` and no Latin word but the accepted ones is left (`data`: what the page
    shows as it is, e.g. a tracking code)."""
    text = visible_text(response)
    for shown in data:
        text = text.replace(shown, " ")
    left = [s for s in strings if re.search(r"(?<![\w-])" + re.escape(s) + r"(?![\w-])", text)]
    assert not left, f"English left on a Bangla page: {left}"
    words = set(re.findall(r"[A-Za-z]{2,}", text)) - ALLOWED_LATIN
    assert not words, f"Latin words on a Bangla page: {sorted(words)}"


def bangla(msgid: str) -> str:
    with translation.override("bn"):
        return str(translation.gettext(msgid))


@pytest.fixture
def bn(client):
    """A visitor who chose Bangla (the switcher's cookie)."""
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "bn"
    return client


def _form(**changes) -> dict:
    data = {
        "category": Category.SERVICE,
        "subject": "ঋণের কিস্তি নিয়ে সমস্যা",
        "description": "মাঠকর্মী কিস্তির রসিদ দেননি।",
        "complainant_gender": "female",
        "complainant_kind": "worker",
        "website": "",
    }
    data.update(changes)
    return data


# --- The lodging page ---------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["cookie", "accept-language"])
def test_the_lodging_page_is_bangla(client, db, how):
    headers = {}
    if how == "cookie":
        client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "bn"
    else:
        headers["HTTP_ACCEPT_LANGUAGE"] = "bn"
    response = client.get(LODGE, **headers)
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "bn"
    page = response.content.decode()
    assert '<html lang="bn">' in page
    for shown in (
        "অভিযোগ জানান",  # title and heading
        "অভিযোগ পাঠান",  # the submit button
        "অভিযোগটি কী বিষয়ে?",
        "কী ঘটেছে",
        "নাম প্রকাশ না করে (বেনামে) জানাতে চাই",
        "কাগজপত্র বা ছবি",
        "ট্র্যাকিং কোড",
        "উদ্যোক্তা",
        "শ্রমিক",
        "প্রতিবেশী",
        "SMART পোর্টাল",
        "ভাষা",
    ):
        assert shown in page, shown
    for _value, label in Category.choices + ComplainantKind.choices:
        assert bangla(label) in page
        assert BANGLA.search(bangla(label)), label
    assert "যৌন শোষণ, নির্যাতন বা হয়রানি (SEA/SH)" in page
    assert_no_english(response, ENGLISH_ON_LODGE)


def test_the_switcher_turns_the_public_page_bangla(client, db):
    response = client.post(reverse("set_language"), {"language": "bn", "next": LODGE})
    assert response.status_code == 302
    assert response.url == LODGE
    page = client.get(LODGE)
    assert "অভিযোগ পাঠান" in page.content.decode()
    assert_no_english(page, ENGLISH_ON_LODGE)


def test_english_stays_the_default(client, db):
    response = client.get(LODGE)
    assert response.headers["Content-Language"] == "en"
    page = response.content.decode()
    assert '<html lang="en">' in page
    for shown in (
        "Lodge a grievance",
        "Lodge the grievance",
        "What is it about?",
        "financial or loan",
        "ME owner",
    ):
        assert shown in page
    # The language switcher names Bangla in Bangla ("বাংলা"), in every language: nothing else is Bangla.
    assert not BANGLA.search(visible_text(response).replace("বাংলা", ""))
    status = client.get(STATUS)
    assert "Check the status of a grievance" in status.content.decode()
    assert not BANGLA.search(visible_text(status).replace("বাংলা", ""))


# --- A refusal, the tracking code, the throttle ----------------------------------------------------------


def test_a_refused_lodging_in_bangla_names_the_fields_in_bangla_and_keeps_what_was_typed(bn, db):
    response = bn.post(LODGE, _form(subject="", description="", complainant_name="রহিমা বেগম"))
    assert response.status_code == 400
    assert Grievance.objects.count() == 0
    page = response.content.decode()
    assert "নিচে চিহ্নিত ঘরগুলো ঠিক করুন।" in page
    assert "ফর্ম গ্রহণ না হলে ফাইল রাখা হয় না" not in page  # no file was sent: nothing was lost
    for field in ("subject", "description"):
        assert f'data-field="{field}">এই ঘরটি আবশ্যক।</div>' in page
    assert 'value="রহিমা বেগম"' in page
    assert 'value="service" selected' in page
    assert_no_english(
        response, [*ENGLISH_ON_LODGE, "Please correct what is marked below.", "This field is required."]
    )


def test_text_limits_are_explained_in_bangla(bn, db):
    response = bn.post(LODGE, _form(subject="ক" * 201))
    assert response.status_code == 400
    # Numbers in Bangla digits, as every Bangla page shows them (core.digits).
    assert 'data-field="subject">এখানে সর্বোচ্চ ২০০টি অক্ষর লেখা যায় (লেখা হয়েছে ২০১টি)।</div>' in (
        response.content.decode()
    )
    assert_no_english(response, [*ENGLISH_ON_LODGE, "Ensure this value has at most"], data=("ক" * 201,))
    assert Grievance.objects.count() == 0


def test_a_refused_attachment_is_explained_in_bangla(bn, db):
    fake = SimpleUploadedFile("rasid.pdf", b"only text, not a PDF\n" * 10, content_type="application/pdf")
    response = bn.post(LODGE, {**_form(), "attachments": [fake]})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-field="attachments">rasid.pdf ফাইলের নাম অনুযায়ী ভেতরের জিনিস মেলে না' in page
    assert "ফর্ম গ্রহণ না হলে ফাইল রাখা হয় না" in page  # a file was sent: choose it again
    assert "গ্রহণযোগ্য: JPEG, PNG, PDF" in page
    assert "ঋণের কিস্তি নিয়ে সমস্যা" in page  # what was typed stays
    assert "does not contain what its name says" not in page
    many = [
        SimpleUploadedFile(f"chhobi{i}.pdf", b"%PDF-1.4\n", content_type="application/pdf") for i in range(4)
    ]
    response = bn.post(LODGE, {**_form(), "attachments": many})
    assert response.status_code == 400
    assert "সর্বোচ্চ ৩টি ফাইল দেওয়া যায় (পাঠানো হয়েছে ৪টি)।" in response.content.decode()
    assert Grievance.objects.count() == 0


def test_the_tracking_code_page_is_bangla(bn, db):
    response = bn.post(LODGE, _form(anonymous="on"))
    assert response.status_code == 302
    done = bn.get(response.url)
    assert done.status_code == 200
    page = done.content.decode()
    grievance = Grievance.objects.get()
    assert grievance.tracking_code in page
    for shown in ("আপনার অভিযোগ আমরা পেয়েছি", "আপনার ট্র্যাকিং কোড:", "কোডটি যত্ন করে রাখুন", "অভিযোগের অবস্থা দেখুন"):
        assert shown in page
    assert_no_english(
        done,
        [
            "Grievance received",
            "Your grievance has been received",
            "Your tracking code:",
            "Keep this code safe",
            "The grievance committee must acknowledge it",
            "Check the status of a grievance",
            "SMART Portal",
        ],
        data=(grievance.tracking_code,),
    )


def test_the_throttle_answers_in_bangla(bn, db, settings):
    settings.GRIEVANCE_LODGE_RATE = "1/hour"
    assert bn.post(LODGE, _form()).status_code == 302
    response = bn.post(LODGE, _form())
    assert response.status_code == 429
    page = response.content.decode()
    assert "অনেকবার চেষ্টা করা হয়েছে" in page
    assert "মিনিট পরে আবার চেষ্টা করুন" in page
    assert_no_english(response, ["Too many attempts", "Too many requests came from your connection"])
    assert Grievance.objects.count() == 1


# --- The status lookup -------------------------------------------------------------------------------


def test_the_status_page_is_bangla(bn, db):
    response = bn.get(STATUS)
    assert response.status_code == 200
    page = response.content.decode()
    for shown in ("অভিযোগের অবস্থা দেখুন", "ট্র্যাকিং কোড", ">দেখুন</button>", "অভিযোগ জানান"):
        assert shown in page
    assert_no_english(response, ENGLISH_ON_STATUS)


def test_a_status_answer_is_bangla(bn, po_one):
    grievance = lodge(po_one)
    response = bn.post(STATUS, {"tracking_code": grievance.tracking_code.lower()})
    assert response.status_code == 200
    page = response.content.decode()
    assert bangla(GrievanceStatus.RECEIVED.label) == "গ্রহণ করা হয়েছে"
    for shown in ("অবস্থা", "গ্রহণ করা হয়েছে", "স্তর", bangla(Tier.PO.label), "প্রাপ্তির তারিখ", "স্বীকারের তারিখ"):
        assert shown in page
    assert_no_english(
        response,
        [
            *ENGLISH_ON_STATUS,
            *("Status", "Level", "Received on", "Acknowledged on", "received", "PO grievance committee"),
        ],
    )
    missing = bn.post(STATUS, {"tracking_code": "AAAAA-BBBBB-CCCCC-DDDDD"})
    assert missing.status_code == 404
    assert "এই ট্র্যাকিং কোডের কোনো অভিযোগ পাওয়া যায়নি।" in missing.content.decode()
    assert_no_english(missing, [*ENGLISH_ON_STATUS, "No grievance has this tracking code"])


# --- The sign-in page and a missing page ---------------------------------------------------------------


def test_the_sign_in_page_is_bangla(bn, db):
    response = bn.get(reverse("login"))
    assert response.status_code == 200
    page = response.content.decode()
    for shown in ("সাইন ইন", "পাসওয়ার্ড ভুলে গেছেন?", "অভিযোগ জানান (অ্যাকাউন্ট লাগবে না)", "অভিযোগের অবস্থা দেখুন"):
        assert shown in page
    assert_no_english(
        response,
        [
            "Sign in",
            "Forgot your password?",
            "Lodge a grievance (no account needed)",
            "Check a grievance's status",
        ],
    )


def test_a_wrong_password_is_refused_in_bangla(bn, db):
    response = bn.post(reverse("login"), {"username": "nobody", "password": "wrong"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "সঠিক সদস্যনাম ও পাসওয়ার্ড দিন।" in page
    assert "Please enter a correct" not in page


def test_a_missing_page_is_bangla_for_an_anonymous_visitor(bn, db):
    response = bn.get("/grievances/no-such-page/")
    assert response.status_code == 404
    assert "পাতাটি পাওয়া যায়নি" in response.content.decode()
    assert_no_english(response, ["Page not found", "Not found", "There is nothing here"])


# --- The catalogue --------------------------------------------------------------------------------------


def _po_entries(path: Path) -> dict[tuple[str | None, str], list[str]]:
    """(context, msgid) -> the msgstr forms, of the non-fuzzy entries of a .po file."""
    entries: dict[tuple[str | None, str], list[str]] = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        if "#, fuzzy" in block or re.search(r"^#~", block, re.M):
            continue
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line.startswith('"'):
                fields[key] += ast.literal_eval(line)
                continue
            key, _, value = line.partition(" ")
            fields[key] = ast.literal_eval(value)
        if fields.get("msgid"):
            forms = [fields[k] for k in sorted(fields) if k.startswith("msgstr")]
            entries[(fields.get("msgctxt"), fields["msgid"])] = forms
    return entries


PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|\{\{\s*\w+\s*\}\}")


def test_the_committed_catalogue_is_compiled_from_the_po_file_and_keeps_placeholders():
    entries = _po_entries(CATALOGUE / "django.po")
    translated = {key: forms for key, forms in entries.items() if any(forms)}
    assert len(translated) >= 150
    with (CATALOGUE / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)._catalog
    for (context, msgid), forms in translated.items():
        key = f"{context}\x04{msgid}" if context else msgid
        if len(forms) == 1:
            assert compiled.get(key) == forms[0], f"not compiled: {msgid!r} (run compilemessages)"
            wanted = [forms[0]]
        else:
            assert [compiled.get((key, n)) for n in range(len(forms))] == forms, f"not compiled: {msgid!r}"
            wanted = forms
        for form in wanted:
            if len(wanted) == 1:
                assert sorted(PLACEHOLDER.findall(form)) == sorted(PLACEHOLDER.findall(msgid)), msgid
            else:
                # A plural's singular may leave the count out ("the last quarter"); its forms may not
                # lose or invent any other placeholder.
                n = {"%(counter)s"}
                assert set(PLACEHOLDER.findall(form)) - n == set(PLACEHOLDER.findall(msgid)) - n, msgid
    msgids = {msgid for _context, msgid in translated}
    stale = [key for key in compiled if isinstance(key, str) and key and key.split("\x04")[-1] not in msgids]
    assert not stale, f"the .mo has translations the .po no longer has: {stale[:5]}"
