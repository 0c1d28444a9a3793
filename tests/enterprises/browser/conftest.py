# The browser journeys' fixtures (a signed-in Chromium page, reference data kept across flushes).
from tests.browser.conftest import _migrated_data_survives_flushes, sign_in  # noqa: F401
