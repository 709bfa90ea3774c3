def test_create_and_list(cli):
    r = cli("ticket", "create", "--title", "VPN drops", "--type", "it_support", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["number"] == 1
    r = cli("ticket", "list", "--json")
    assert [t["title"] for t in r.json()] == ["VPN drops"]
