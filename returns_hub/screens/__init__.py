"""Screens for people: one package per team, over the same filtersets, role matrix and
services as the API. Screens make no writes of their own: every action calls a service."""
