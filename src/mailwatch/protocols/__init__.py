"""Protocol clients for the probes; each turns its library's errors into ProbeFailure."""
