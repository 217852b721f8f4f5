from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("sqs_tasks", "0001_outbox")]

    operations = [
        migrations.AddField(
            model_name="outboxentry",
            name="kind",
            field=models.CharField(default="task", max_length=16),
        ),
    ]
