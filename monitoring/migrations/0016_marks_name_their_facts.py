"""A change mark names the facts it may move (FactChange.facts), by the table it was made in: a KPI
reading imported marks the ME's KPI tracking and outcome pairs only, and the catch-up recomputes only
those, keeping the ME's other facts (monitoring.facts). The triggers are installed again to write it;
the marks already pending move every fact, as before. (The triggers are dropped while the column is
added: SQLite adds it by copying the table, and a trigger naming the table meanwhile stops it.)"""

from django.db import migrations, models

from monitoring.facts import install_sql, remove_sql


def drop_triggers(apps, schema_editor):
    for statement in remove_sql(schema_editor.connection.vendor):
        schema_editor.execute(statement)


def mark_facts(apps, schema_editor):
    for statement in install_sql(schema_editor.connection.vendor):
        schema_editor.execute(statement)


def mark_mes_only(apps, schema_editor):
    for statement in install_sql(schema_editor.connection.vendor, marking_facts=False):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0015_values_updated_in_place"),
    ]

    operations = [
        migrations.RunPython(drop_triggers, mark_mes_only),
        migrations.AddField(
            model_name="factchange",
            name="facts",
            field=models.PositiveSmallIntegerField(default=31, verbose_name="facts it may move"),
        ),
        migrations.RunPython(mark_facts, drop_triggers),
    ]
