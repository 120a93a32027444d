"""Airflow hooks of the Boomi provider."""
