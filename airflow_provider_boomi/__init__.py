"""Boomi access governance for Apache Airflow.

Kept deliberately light: importing the package must not pull in Airflow, requests or pyarrow,
because Airflow imports provider packages while parsing DAGs and the simulator CLI imports it too.
"""

__version__ = "0.1.0"
