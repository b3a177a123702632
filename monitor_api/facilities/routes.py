"""Facility registry routes (being built)."""

from flask_smorest import Blueprint

blp = Blueprint("facilities", __name__, url_prefix="/api/v1/facilities",
                description="The registry of places of detention.")
