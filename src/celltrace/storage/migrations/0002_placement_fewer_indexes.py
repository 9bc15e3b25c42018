"""Placements: the aliquot, placed-by and removed-by foreign keys lose their own indexes.

``storage_placement_hist`` (aliquot, placed_at) leads with the aliquot; who placed or removed
an aliquot is read with the placement and never searched by. Each placement written updates
three indexes fewer. Only the indexes are dropped (no table rebuild on SQLite); the index names
are the ones Django gave them on both databases.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

INDEXES = {
    "storage_placement_aliquot_id_9500b21f": "aliquot_id",
    "storage_placement_placed_by_id_7bcdefe1": "placed_by_id",
    "storage_placement_removed_by_id_b2d66001": "removed_by_id",
}


def _user_fk() -> models.ForeignKey:
    return models.ForeignKey(
        blank=True,
        db_constraint=False,
        db_index=False,
        null=True,
        on_delete=django.db.models.deletion.SET_NULL,
        related_name="+",
        to=settings.AUTH_USER_MODEL,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("bank", "0003_aliquot_fewer_indexes"),
        ("storage", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="placement",
                    name="aliquot",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="placements",
                        to="bank.aliquot",
                    ),
                ),
                migrations.AlterField(model_name="placement", name="placed_by", field=_user_fk()),
                migrations.AlterField(model_name="placement", name="removed_by", field=_user_fk()),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "storage_placement" ("{column}")',
                )
                for name, column in INDEXES.items()
            ],
        ),
    ]
