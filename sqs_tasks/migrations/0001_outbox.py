from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies: list = []

    operations = [
        migrations.CreateModel(
            name="OutboxEntry",
            fields=[
                ("task_id", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("queue_name", models.CharField(max_length=80)),
                ("envelope", models.TextField()),
                ("created_at", models.DateTimeField(db_index=True)),
                ("relay_attempts", models.PositiveIntegerField(default=0)),
                ("last_error", models.TextField(blank=True, default="")),
            ],
            options={
                "db_table": "sqs_tasks_outbox",
                "verbose_name": "unsent task",
                "verbose_name_plural": "unsent tasks",
            },
        ),
    ]
