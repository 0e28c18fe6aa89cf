"""The HTTP API through FastAPI's TestClient and the real recogniser: each route, the JSON, the docs."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from digitreader.server.app import create_app
from digitreader.server.settings import Settings


def test_read_multipart_returns_the_cli_json(client, recognizer, digit_png):
    data = digit_png("7")
    response = client.post("/v1/read", files={"file": ("seven.png", data, "image/png")})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    # Exactly what `digits read --json` prints for this image.
    assert response.json() == recognizer.read(data).to_dict(path="seven.png")
    assert response.json()["text"] == "7"


def test_read_raw_body_has_null_path(client, digit_png):
    response = client.post("/v1/read", content=digit_png("0"), headers={"Content-Type": "image/png"})
    assert response.status_code == 200
    body = response.json()
    assert body["path"] is None
    assert body["text"] == "0"
    (digit,) = body["digits"]
    assert set(digit) == {"label", "confidence", "box"}
    assert 0.5 < digit["confidence"] <= 1.0
    x, y, w, h = digit["box"]
    # The "0" is drawn in a 160 px cell starting at (40, 40).
    assert 40 <= x + w / 2 <= 200 and 40 <= y + h / 2 <= 200


@pytest.mark.parametrize("text", ["17", "470"])
def test_read_number_gives_each_digit_a_box_left_to_right(client, digit_png, text):
    response = client.post("/v1/read?mode=number", files={"file": ("n.png", digit_png(text), "image/png")})
    assert response.status_code == 200
    body = response.json()
    assert body["text"] == text
    xs = [d["box"][0] for d in body["digits"]]
    assert xs == sorted(xs) and len(xs) == len(text)


def test_separators_come_back_as_written(client, recognizer):
    from pathlib import Path

    amount = Path(__file__).resolve().parents[2] / "examples" / "amount_1,250_cheque.jpg"
    data = amount.read_bytes()
    response = client.post("/v1/read?mode=number", files={"file": (amount.name, data, "image/jpeg")})
    assert response.status_code == 200
    body = response.json()
    assert body == recognizer.read(data, mode="number").to_dict(path=amount.name)
    assert body["digits_text"] == "".join(ch for ch in body["text"] if ch.isdigit())


def test_mode_digit_from_form_field_beats_the_query(client, digit_png):
    data = digit_png("17")
    as_form = client.post(
        "/v1/read?mode=number", files={"file": ("n.png", data, "image/png")}, data={"mode": "digit"}
    )
    assert as_form.status_code == 200
    assert len(as_form.json()["digits"]) == 1  # one digit: the whole image


def test_details_adds_ten_probabilities(client, digit_png):
    response = client.post(
        "/v1/read?details=true", content=digit_png("1"), headers={"Content-Type": "image/png"}
    )
    assert response.status_code == 200
    (digit,) = response.json()["digits"]
    probabilities = digit["probabilities"]
    assert len(probabilities) == 10
    assert abs(sum(probabilities) - 1.0) < 1e-3
    assert max(range(10), key=probabilities.__getitem__) == digit["label"] == 1
    assert probabilities[1] == pytest.approx(digit["confidence"], abs=1e-6)


def test_blank_image_reads_no_digits_with_a_note(client, png_of_size):
    response = client.post("/v1/read", content=png_of_size(200, 200), headers={"Content-Type": "image/png"})
    assert response.status_code == 200
    body = response.json()
    assert body["text"] == "" and body["digits"] == []
    assert body["notes"]


def test_request_cannot_choose_the_model(client, digit_png):
    # No parameter names a model or a path: the server reads with its own model whatever the request says.
    plain = client.post("/v1/read", content=digit_png("7"), headers={"Content-Type": "image/png"}).json()
    tricked = client.post(
        "/v1/read?model=/etc/passwd&path=/etc/passwd",
        files={"file": ("../../etc/passwd", digit_png("7"), "image/png")},
        data={"model": "/etc/passwd"},
    )
    assert tricked.status_code == 200
    assert tricked.json()["digits"] == plain["digits"]
    assert tricked.json()["path"] == "../../etc/passwd"  # echoed as a name only, never opened


def test_healthz_names_the_model(client, recognizer):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["model"] == recognizer.model_name
    assert body["max_body_bytes"] == Settings().max_body_bytes


def test_page_and_its_files_are_served(client):
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert 'id="draw-canvas"' in page.text
    assets = [(f"{name}.js", "javascript") for name in ("app", "pad", "photo", "result")]
    for asset, kind in [*assets, ("style.css", "text/css"), ("favicon.svg", "image/svg")]:
        response = client.get(f"/static/{asset}")
        assert response.status_code == 200, asset
        assert kind in response.headers["content-type"]


def test_docs_page_loads_swagger_ui_from_the_package_not_a_cdn(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text and "http://" not in page.text and "https://" not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/static/vendor/swagger-ui/{asset}" in page.text
        response = client.get(f"/static/vendor/swagger-ui/{asset}")
        assert response.status_code == 200 and len(response.content) > 100_000
    assert client.get("/redoc").status_code == 404  # ReDoc would load from a CDN: not offered


def test_openapi_describes_the_read_route(client):
    spec = client.get("/openapi.json").json()
    read = spec["paths"]["/v1/read"]["post"]
    assert set(read["requestBody"]["content"]) == {"multipart/form-data", "image/*"}
    assert read["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("ReadingOut")
    assert {"413", "415", "422"} <= set(read["responses"])
    assert "/healthz" in spec["paths"]


def test_unknown_route_is_a_plain_404(client):
    response = client.get("/v2/nothing")
    assert response.status_code == 404
    assert isinstance(response.json()["detail"], str)


def test_cors_is_off_by_default_and_on_for_listed_origins(recognizer, digit_png):
    headers = {"Origin": "https://example.org"}
    with TestClient(create_app(Settings(), recognizer)) as plain:
        assert "access-control-allow-origin" not in plain.get("/healthz", headers=headers).headers
    settings = Settings(cors_origins=["https://example.org"], max_body_bytes=1000)
    with TestClient(create_app(settings, recognizer)) as open_client:
        response = open_client.get("/healthz", headers=headers)
        assert response.headers["access-control-allow-origin"] == "https://example.org"
        # The body limit's own 413 carries them too, so a page elsewhere can read why.
        big = {**headers, "Content-Type": "image/png", "Content-Length": str(settings.max_body_bytes + 1)}
        refused = open_client.post("/v1/read", content=b"\0" * (settings.max_body_bytes + 1), headers=big)
        assert refused.status_code == 413
        assert refused.headers["access-control-allow-origin"] == "https://example.org"


def test_app_loads_the_model_itself_at_startup(recognizer):
    # No recogniser given: the lifespan loads settings.model (here the model file the fixture uses).
    app = create_app(Settings(model=recognizer.path))
    with TestClient(app) as fresh:
        assert fresh.get("/healthz").json()["model"] == recognizer.model_name
