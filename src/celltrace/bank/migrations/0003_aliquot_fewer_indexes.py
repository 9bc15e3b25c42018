"""Aliquots: the organisation and product foreign keys lose their own indexes.

``(organisation, barcode)`` (unique) and ``(organisation, status)`` lead with the organisation,
``(product, division)`` with the product, so every lookup the two indexes served is still
served; each aliquot written updates two indexes fewer. Only the indexes are dropped (no table
rebuild on SQLite); the index names are the ones Django gave them on both databases.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = {
    "bank_aliquot_organisation_id_fbf7c5e9": "organisation_id",
    "bank_aliquot_product_id_5e302be3": "product_id",
}


class Migration(migrations.Migration):
    dependencies = [
        ("bank", "0002_distributions"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="aliquot",
                    name="organisation",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="core.organisation",
                        verbose_name="organisation",
                    ),
                ),
                migrations.AlterField(
                    model_name="aliquot",
                    name="product",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="aliquots",
                        to="bank.product",
                        verbose_name="product",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "bank_aliquot" ("{column}")',
                )
                for name, column in INDEXES.items()
            ],
        ),
    ]
