"""Khaos Control Cloud's generic Web Services channel: Khaos calls the hub.

Khaos GETs documents to import (returns, exchange orders) and POSTs what it
exports (stock, stock status, order status). ``schema`` names the elements,
``formats`` reads and writes JSON and XML, ``channel`` holds the download and
upload rules, ``views`` the endpoints, and ``simulator`` plays Khaos.
"""
