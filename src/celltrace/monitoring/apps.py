from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "celltrace.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from celltrace.audit import signing
        from celltrace.audit.selectors import register_history
        from celltrace.core import demo as core_demo
        from celltrace.monitoring import demo, selectors, services
        from celltrace.monitoring.models import Alarm, Excursion, Sensor

        signing.register(
            Alarm,
            meanings=Alarm.SIGNATURE_MEANINGS,
            can_sign=services.alarm_can_sign,
            visible=selectors.alarms_signable,
        )
        register_history(Alarm, selectors.alarms_signable)
        register_history(Excursion, selectors.excursions_history)
        register_history(Sensor, selectors.sensors_history)
        core_demo.register("temperature monitoring", demo.load)
