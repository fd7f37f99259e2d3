pytest_plugins = ["omskit.testing"]
