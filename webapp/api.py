from flask import Blueprint

blueprint = Blueprint("api", __name__)


@blueprint.get("/api/openapi.json")
def openapi():
    return {}
