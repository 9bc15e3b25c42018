from django.apps import AppConfig


class StorageConfig(AppConfig):
    name = "celltrace.storage"
    label = "storage"
    verbose_name = "Storage"
