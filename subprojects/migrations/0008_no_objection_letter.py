"""The World Bank's no-objection letter on the proposal (reference and date, given with the
"no_objection" transition), and the moment a TEC meeting's attendance was first taken.

Meetings whose attendance was already recorded (on the former meeting form) count as taken, as of the
meeting: their minutes keep showing who was present."""

import core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def attendance_recorded_before(apps, schema_editor):
    meeting_model = apps.get_model("subprojects", "TecMeeting")
    for meeting in meeting_model.objects.filter(attendees__isnull=False).distinct():
        meeting_model.objects.filter(pk=meeting.pk).update(attendance_taken_at=meeting.held_on)


class Migration(migrations.Migration):
    dependencies = [
        ("subprojects", "0007_es_conditions_and_esmp"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalproposal",
            name="no_objection_date",
            field=models.DateField(
                blank=True,
                null=True,
                validators=[
                    core.validators.DateRange("The date of the World Bank letter", "programme_start", "today")
                ],
                verbose_name="date of the World Bank letter",
            ),
        ),
        migrations.AddField(
            model_name="historicalproposal",
            name="no_objection_reference",
            field=models.CharField(
                blank=True,
                help_text="The reference of the World Bank's no-objection letter.",
                max_length=100,
                verbose_name="World Bank letter reference",
            ),
        ),
        migrations.AddField(
            model_name="historicaltecmeeting",
            name="attendance_taken_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="attendance taken at"),
        ),
        migrations.AddField(
            model_name="historicaltecmeeting",
            name="attendance_taken_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="attendance taken by",
            ),
        ),
        migrations.AddField(
            model_name="proposal",
            name="no_objection_date",
            field=models.DateField(
                blank=True,
                null=True,
                validators=[
                    core.validators.DateRange("The date of the World Bank letter", "programme_start", "today")
                ],
                verbose_name="date of the World Bank letter",
            ),
        ),
        migrations.AddField(
            model_name="proposal",
            name="no_objection_reference",
            field=models.CharField(
                blank=True,
                help_text="The reference of the World Bank's no-objection letter.",
                max_length=100,
                verbose_name="World Bank letter reference",
            ),
        ),
        migrations.AddField(
            model_name="tecmeeting",
            name="attendance_taken_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="attendance taken at"),
        ),
        migrations.AddField(
            model_name="tecmeeting",
            name="attendance_taken_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="attendance taken by",
            ),
        ),
        migrations.RunPython(attendance_recorded_before, migrations.RunPython.noop),
    ]
