from flask import Blueprint

blueprint = Blueprint("office", __name__)


@blueprint.get("/sources")
def sources():
    return "sources"


@blueprint.route("/validate", methods=["GET", "POST"])
def validate():
    return "validate"
