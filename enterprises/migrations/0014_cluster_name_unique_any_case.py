# Cluster names are unique whatever their case (clusters._name_taken checks it first).

import django.db.models.functions.text
from django.db import migrations, models
from django.db.models.functions import Lower


def rename_case_duplicates(apps, schema_editor):
    """Names that differ only in case (saved before the constraint, e.g. by two requests at once)
    get a number, so the constraint can be added: "Bhairab footwear" and "bhairab footwear (2)"."""
    Cluster = apps.get_model("enterprises", "Cluster")
    seen: dict[str, int] = {}
    taken = {name.lower() for name in Cluster.objects.values_list("name", flat=True)}
    for cluster in Cluster.objects.annotate(lowered=Lower("name")).order_by("lowered", "pk"):
        count = seen.get(cluster.lowered, 0) + 1
        seen[cluster.lowered] = count
        if count == 1:
            continue
        number = count
        while f"{cluster.name} ({number})".lower() in taken:
            number += 1
        cluster.name = f"{cluster.name} ({number})"[: Cluster._meta.get_field("name").max_length]
        taken.add(cluster.name.lower())
        cluster.save(update_fields=["name"])


class Migration(migrations.Migration):
    dependencies = [
        ("enterprises", "0013_import_job_heartbeat_and_cancel"),
    ]

    operations = [
        migrations.RunPython(rename_case_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="cluster",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("name"),
                name="cluster_name_unique_any_case",
                violation_error_message="A cluster with this name already exists.",
            ),
        ),
    ]
