"""The health report: availability, latency, SLA, stages, certificates and blocklists of a
period, built as a pure function of the stored history (``model``) and rendered as Markdown,
HTML or PDF, for ``mailwatch report`` and the web face's ``/report``."""
