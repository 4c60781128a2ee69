pytest_plugins = [
    "harness.fixtures",
    "harness.dns_fixtures",
    "harness.postgres_fixtures",
    "helpers.store_engines",
    "helpers.browser",
]
