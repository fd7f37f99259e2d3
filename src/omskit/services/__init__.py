"""Application services: one module per capability, all reached through ``Oms``."""
