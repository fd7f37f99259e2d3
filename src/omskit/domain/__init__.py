"""The omskit domain model: pure Python, no database, no plugin machinery."""
