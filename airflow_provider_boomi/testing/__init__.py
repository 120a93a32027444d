"""Test helpers for airflow-provider-boomi: the Boomi Platform API simulator lives in ``simulator``."""
