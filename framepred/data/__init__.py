"""Datasets and DataModules."""
