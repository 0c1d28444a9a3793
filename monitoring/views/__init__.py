"""Pages of results monitoring: the dashboard and indicator pages (dashboard), the results reports
(reports) and the data-quality panel (quality)."""
