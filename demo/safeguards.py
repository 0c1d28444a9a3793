"""Demo data for safeguards: E&S screening and review of proposals, ME screenings and clearances, and
incidents (each part in its own module)."""

from demo import es_incidents, es_reviews, es_screenings


def seed(stdout) -> None:
    es_reviews.seed(stdout)
    es_screenings.seed(stdout)
    es_incidents.seed(stdout)
