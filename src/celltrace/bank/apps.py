from django.apps import AppConfig


class BankConfig(AppConfig):
    name = "celltrace.bank"
    label = "bank"
    verbose_name = "Bank"
