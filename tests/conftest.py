pytest_plugins = ["harness.fixtures", "harness.dns_fixtures"]
