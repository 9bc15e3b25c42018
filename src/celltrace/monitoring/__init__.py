"""Temperature monitoring of storage units: readings, excursions, alarms and impact reports."""
