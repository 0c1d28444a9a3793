"""The PO strata of a round as drawn (population by kind and sample size: they cannot be recomputed
later), and the district of each check, copied at the draw for filtering and grouping."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0004_verifier_role"),
        ("verification", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="RoundStratum",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "adoptions",
                    models.PositiveIntegerField(default=0, verbose_name="adoptions in the population"),
                ),
                (
                    "profiles",
                    models.PositiveIntegerField(
                        default=0, verbose_name="validated profiles in the population"
                    ),
                ),
                (
                    "facilities",
                    models.PositiveIntegerField(default=0, verbose_name="facilities in the population"),
                ),
                ("sample_size", models.PositiveIntegerField(verbose_name="sample size")),
            ],
            options={
                "verbose_name": "PO stratum of a round",
                "verbose_name_plural": "PO strata of rounds",
                "ordering": ["round", "partner_organization__code"],
            },
        ),
        migrations.AddField(
            model_name="verificationcheck",
            name="district",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="core.district",
                verbose_name="district",
            ),
        ),
        migrations.AddIndex(
            model_name="verificationcheck",
            index=models.Index(fields=["district", "status"], name="check_district_status_idx"),
        ),
        migrations.AddField(
            model_name="roundstratum",
            name="partner_organization",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="core.partnerorganization",
                verbose_name="PO",
            ),
        ),
        migrations.AddField(
            model_name="roundstratum",
            name="round",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="strata",
                to="verification.verificationround",
                verbose_name="round",
            ),
        ),
        migrations.AddConstraint(
            model_name="roundstratum",
            constraint=models.UniqueConstraint(
                fields=("round", "partner_organization"), name="one_stratum_per_po_and_round"
            ),
        ),
    ]
