from flask import Blueprint

blueprint = Blueprint("federation", __name__)


@blueprint.get("/feed.json")
def feed():
    return {}
