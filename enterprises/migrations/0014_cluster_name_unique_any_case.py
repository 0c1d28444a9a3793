# Cluster names are unique whatever their case (clusters._name_taken checks it first).

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("enterprises", "0013_import_job_heartbeat_and_cancel"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="cluster",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("name"),
                name="cluster_name_unique_any_case",
                violation_error_message="A cluster with this name already exists.",
            ),
        ),
    ]
