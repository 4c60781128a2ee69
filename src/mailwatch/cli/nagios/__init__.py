"""``mailwatch check --nagios``: a plugin after the Monitoring Plugins Development Guidelines,
for Nagios, Icinga, Naemon and Checkmk: its output, its perfdata and its time limit."""
