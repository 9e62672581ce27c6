"""Adobe's code table, the request schema, `reconciler new` and the emulator agree.

The expected codes are written out here from Adobe's pages (sources in
reconciler/adobe/codes.py, read 2026-12-02), not read back from the table: a change to
the table has to be made here too, on purpose.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.adobe import AdobeClient, AdobeConfig, ApiError, codes
from reconciler.emulator import privacy_rules
from reconciler.schema_enums import COMMAND, main, stale_enums, write_enums
from tests.conftest import JOB_USER_KEY, git, write

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schemas" / "privacy-job.schema.json"

# The Privacy Service UI guide's "Regulation Type" table (2026-05-23).
REGULATIONS = [
    "apa_aus", "ccpa", "cpa_co_usa", "cpra_ca_usa", "ctdpa_ct_usa", "dpdpa_de_usa",
    "fdbr_fl_usa", "gdpr", "hipaa_usa", "icdpa_ia_usa", "lgpd_bra", "mcdpa_mn_usa",
    "mcdpa_mt_usa", "mhmda_wa_usa", "modpa_md_usa", "ndpa_ne_usa", "nhpa_nh_usa",
    "njdpa_nj_usa", "nzpa_nzl", "ocpa_or_usa", "pdpa_tha", "pipa_kor", "ql25_qc_can",
    "tdpsa_tx_usa", "tipa_tn_usa", "ucpa_ut_usa", "vcdpa_va_usa",
]  # fmt: skip
# The appendix's "Accepted product values", each product's code as the job reports it.
PRODUCTS = [
    "analytics", "audienceManager", "adCloud", "profileService", "AdobeCloudPlatform",
    "campaign", "target", "CRS", "cjm", "marketo", "identity", "marketomeasure",
    "commerceMarketingData",
]  # fmt: skip
# Every spelling the schema takes → the product Adobe (and the emulator) files it under.
SPELLINGS = {
    **{p: p for p in PRODUCTS},
    "Analytics": "analytics",
    "AudienceManager": "audienceManager",
    "AdCloud": "adCloud",
    "ProfileService": "profileService",
    "aepDataLake": "AdobeCloudPlatform",
    "Campaign": "campaign",
    "Target": "target",
    "Identity": "identity",
}

JOB = """\
apiVersion: reconciler/v1
kind: PrivacyJob
metadata:
  name: {name}
spec:
  regulation: {regulation}
  include: [{include}]
  users:
    - key: user-1
      action: [access]
      userIDs:
        - namespace: email
          value: {name}@example.com
          type: standard
"""


def schema_enums() -> tuple[list[str], list[str]]:
    """The schema file's regulation and product enums, read from the file itself."""
    spec = json.loads(SCHEMA.read_text(encoding="utf-8"))["properties"]["spec"]["properties"]
    return spec["regulation"]["enum"], spec["include"]["items"]["enum"]


# -- the table and the schema --------------------------------------------------------


def test_the_table_holds_adobes_current_codes() -> None:
    assert list(codes.regulation_codes()) == REGULATIONS
    assert [p.code for p in codes.PRODUCTS] == PRODUCTS
    assert sorted(codes.product_spellings()) == sorted(SPELLINGS)
    assert codes.find_regulation("gdpr") == codes.Regulation(
        "gdpr", "GDPR (EU)", "General Data Protection Regulation"
    )
    assert codes.READ_ON == "2026-12-02"


def test_the_schema_lists_the_tables_codes() -> None:
    problems = stale_enums(SCHEMA.read_text(encoding="utf-8"))
    assert problems == [], f"{SCHEMA.name} is stale ({problems}); regenerate it: {COMMAND}"
    regulations, products = schema_enums()
    assert regulations == REGULATIONS
    assert sorted(products) == sorted(SPELLINGS)
    # Retired or unlisted codes are gone; the guide's newer ones are there.
    for gone in ("dpdpa", "ql25", "primetimeAuthentication", "automationProduct"):
        assert gone not in regulations + products
    assert {"pipa_kor", "modpa_md_usa", "ql25_qc_can"} <= set(regulations)


def test_no_spelling_names_two_products() -> None:
    # Adobe ignores case: two products whose spellings differ only in case would be one.
    owners: dict[str, set[str]] = {}
    for product in codes.PRODUCTS:
        for spelling in product.accepted:
            owners.setdefault(spelling.lower(), set()).add(product.code)
    assert all(len(o) == 1 for o in owners.values()), owners


def test_a_stale_schema_is_reported_and_rewritten_to_the_committed_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    committed = SCHEMA.read_text(encoding="utf-8")
    stale = committed.replace('"pipa_kor", ', "").replace('"commerceMarketingData"', '"x"')
    assert stale != committed
    problems = stale_enums(stale)
    assert len(problems) == 2
    assert "missing ['pipa_kor']" in problems[0]
    assert "missing ['commerceMarketingData'], not in the table ['x']" in problems[1]
    # The generator writes exactly the committed file: it is the generator's output.
    assert write_enums(stale) == committed
    assert write_enums(committed) == committed

    path = tmp_path / SCHEMA.name
    path.write_text(stale, encoding="utf-8")
    assert main(["--check"], path) == 1
    assert COMMAND in capsys.readouterr().err
    assert main([], path) == 0
    assert path.read_text(encoding="utf-8") == committed
    assert main(["--check"], path) == 0


def test_reordered_enums_are_stale() -> None:
    committed = SCHEMA.read_text(encoding="utf-8")
    swapped = committed.replace('"apa_aus", "ccpa"', '"ccpa", "apa_aus"')
    assert stale_enums(swapped) == [
        "properties.spec.properties.regulation: in another order than the table"
    ]


# -- the emulator --------------------------------------------------------------------


def test_the_emulator_takes_its_codes_from_the_table() -> None:
    assert privacy_rules.REGULATIONS == {*REGULATIONS, "dpdpa", "ql25"}
    assert privacy_rules.PRODUCTS == {s.lower(): p for s, p in SPELLINGS.items()}


def client_of(adobe) -> AdobeClient:
    env = {**adobe.env(), "ADOBE_SANDBOX_NAME": "prod"}
    return AdobeClient(AdobeConfig.from_env(env, backoff_base=0.01, requests_per_second=500.0))


def user(key: str) -> dict[str, object]:
    return {
        "key": key,
        "action": ["access"],
        "userIDs": [{"namespace": "email", "value": f"{key}@example.com", "type": "standard"}],
    }


def test_every_regulation_of_the_schema_is_accepted_and_listed(adobe) -> None:
    regulations, _ = schema_enums()
    with client_of(adobe) as client:
        for regulation in regulations:
            created = client.privacy.create_privacy_job(
                regulation=regulation, users=[user(regulation)], include=["analytics"]
            )
            listed = client.privacy.list_privacy_jobs(regulation)
            assert [j.job_id for j in listed] == [j.job_id for j in created.jobs], regulation


def test_a_retired_regulation_is_filed_under_its_successor(adobe) -> None:
    with client_of(adobe) as client:
        created = client.privacy.create_privacy_job(
            regulation="ql25", users=[user("quebec")], include=["analytics"]
        )
        (job,) = created.jobs
        assert client.privacy.get_privacy_job(job.job_id).regulation == "ql25_qc_can"
        assert [j.job_id for j in client.privacy.list_privacy_jobs("ql25_qc_can")] == [job.job_id]
        with pytest.raises(ApiError, match="regulation"):
            client.privacy.create_privacy_job(
                regulation="hipaa", users=[user("nope")], include=["analytics"]
            )


# -- request files, end to end -------------------------------------------------------


def test_every_product_spelling_of_the_schema_is_accepted_by_the_emulator(
    run, adobe, repo: Path
) -> None:
    """One request per spelling (two spellings of a product in one request are one
    product twice), validated, planned and applied over HTTP like any other."""
    _, products = schema_enums()
    names = {}
    for i, spelling in enumerate(products):
        names[f"p{i}"] = spelling
        text = JOB.format(name=f"p{i}", regulation="gdpr", include=spelling)
        write(repo, f"requests/p{i}.yaml", text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    result = run("-C", str(repo), "apply", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert f"{len(products)} created" in result.output
    filed = {
        JOB_USER_KEY.match(job["userKey"]).group(1): job["product"] for job in adobe.admin.jobs()
    }
    assert filed == {name: SPELLINGS[spelling] for name, spelling in names.items()}


def test_one_request_may_name_every_product(run, adobe, repo: Path) -> None:
    text = JOB.format(name="all", regulation="ccpa", include=", ".join(PRODUCTS))
    write(repo, "requests/all.yaml", text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    result = run("-C", str(repo), "apply", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert sorted(job["product"] for job in adobe.admin.jobs()) == sorted(PRODUCTS)


def test_reconciler_new_defaults_are_accepted_by_the_emulator(run, adobe, repo: Path) -> None:
    write(repo, "ids.csv", "email\nnew.default@example.com\n")
    made = run("-C", str(repo), "new", "privacy-job", "--name", "p", "--regulation", "gdpr",
               "--csv", "ids.csv")  # fmt: skip
    assert made.exit_code == 0, made.output
    (repo / "ids.csv").unlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    result = run("-C", str(repo), "apply", "--auto-approve")
    assert result.exit_code == 0, result.output
    products = sorted(job["product"] for job in adobe.admin.jobs())
    assert products == ["AdobeCloudPlatform", "identity", "profileService"]


@pytest.mark.parametrize(
    ("field", "value", "line"),
    [
        pytest.param("include", "analytics, primetimeAuthentication", 7, id="unlisted-product"),
        pytest.param("include", "analytics, CustomerJourneyAnalytics", 7, id="unknown-product"),
        pytest.param("regulation", "ql25", 6, id="retired-regulation"),
    ],
)
def test_a_code_not_in_the_table_is_a_finding_at_its_line(
    run, repo: Path, field: str, value: str, line: int
) -> None:
    fields = {"regulation": "gdpr", "include": "analytics", field: value}
    write(repo, "requests/bad.yaml", JOB.format(name="bad", **fields))
    result = run("-C", str(repo), "validate")
    assert result.exit_code == 1
    first = result.output.splitlines()[0]
    assert first.startswith(f"requests/bad.yaml:{line}:"), result.output
    assert "must be one of" in first


def test_the_data_lakes_two_codes_in_one_request_are_one_product_twice(
    run, adobe, repo: Path
) -> None:
    text = JOB.format(name="twice", regulation="gdpr", include="AdobeCloudPlatform, aepDataLake")
    write(repo, "requests/twice.yaml", text)
    result = run("-C", str(repo), "validate")
    assert result.exit_code == 1
    assert result.output.splitlines()[0].startswith("requests/twice.yaml:7:"), result.output
    assert "(duplicate-product)" in result.output
    # The emulator refuses it as well.
    with client_of(adobe) as client, pytest.raises(ApiError, match="more than once"):
        client.privacy.create_privacy_job(
            regulation="gdpr", users=[user("twice")], include=["AdobeCloudPlatform", "aepDataLake"]
        )
