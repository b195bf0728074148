"""Edge collector: polls meters on their buses and publishes to MQTT with store-and-forward.

Public entry points: :class:`collector.service.Collector`, :func:`collector.service.run_collector`,
:func:`collector.config.load_config`, and ``collector.cli`` for ``isu collector``.
"""
