from flask import Blueprint

blueprint = Blueprint("calendar", __name__)
