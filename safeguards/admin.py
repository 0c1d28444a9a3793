from safeguards import incident_admin, review_admin, screening_admin  # noqa: F401  (each registers its models)
