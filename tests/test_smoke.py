def test_submit(submit):
    r = submit()
    assert r.status_code == 201, r.json
    assert r.json["municipality"]["slug"] == "prishtina"
