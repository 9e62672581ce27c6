"""Adobe's Privacy Service vocabulary: regulation codes and product codes, in one table.

The request schema (``schemas/privacy-job.schema.json``, written from here by
``python -m reconciler.schema_enums``), ``reconciler new`` and the emulator all read
this table, so a code one of them takes the others take too.

Sources, read 2026-12-02:

- Regulations: the Privacy Service UI guide, "Regulation Type" table (page last updated
  2026-05-23), https://experienceleague.adobe.com/en/docs/experience-platform/privacy/ui/user-guide
  and the regulations overview it links,
  https://experienceleague.adobe.com/en/docs/experience-platform/privacy/regulations/overview
- Products: the Privacy Service API guide appendix, "Accepted product values",
  https://experienceleague.adobe.com/en/docs/experience-platform/privacy/api/appendix
  (its source is ``help/privacy-service/api/appendix.md`` in AdobeDocs/experience-platform.en).
- Adobe's OpenAPI spec, ``privacy-service.yaml`` (AdobeDocs/experience-platform-apis,
  commit 16c60cd, 2026-06-11; copied in the shared reference folder): the ``regulation``
  enum and the ``include`` example.

Where they disagree:

- The spec's regulation enum lacks ``dpdpa_de_usa``, ``modpa_md_usa``, ``pipa_kor`` and
  ``ql25_qc_can`` and still has the short names ``dpdpa`` and ``ql25``, retired in 2025
  (the UI guide keeps short names for ``gdpr`` and ``ccpa`` only). The UI guide is
  followed; the retired names are kept in :data:`RETIRED_REGULATIONS` so that the
  emulator can take them as their current code, as a client written from the spec would
  send them. The
  guide also carries ``icdpa_in_usa``, ``kcdpa_ky_usa`` and ``ridtppa_ri_usa`` commented
  out as "not supported yet": they are left out until the guide lists them.
- The appendix has named the Experience Platform data lake ``AdobeCloudPlatform`` (its
  first table and its newest English source) and ``aepDataLake`` (the page as rendered
  in May 2026, its translations, and the data lake's own privacy guide). Both name one
  product: ``AdobeCloudPlatform`` is its code here, ``aepDataLake`` a spelling accepted
  for it. Listing both in one request names the product twice.
- The appendix says product codes are case-insensitive, camel case recommended. The
  schema is an enum, which cannot ignore case, so it lists each code as the appendix
  spells it plus the spellings Adobe's own pages and examples use (``Analytics``,
  ``AudienceManager``, ``ProfileService``, ``Identity``), and the case variants it
  already accepted before this table; a typo then fails ``reconciler validate`` instead
  of Adobe's call. The emulator, like Adobe, ignores case.
- Products in older appendix tables and absent from the current one, which says only
  the products it lists are supported, are left out: ``primetimeAuthentication`` (Adobe
  Pass Authentication) and ``automationProduct``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

READ_ON = "2026-12-02"
"""The day the sources above were read."""


@dataclass(frozen=True)
class Regulation:
    """A regulation Privacy Service files jobs under.

    ``code`` is the API's ``regulation`` value, ``name`` a short label (the UI's, without
    the code's suffix), ``law`` the law's own name.
    """

    code: str
    name: str
    law: str


@dataclass(frozen=True)
class Product:
    """A product a privacy job can be run in (a value of ``include``).

    ``code`` is the spelling of the appendix's current table; ``spellings`` are the other
    spellings accepted for the same product (see the module docstring for why each).
    """

    code: str
    name: str
    spellings: tuple[str, ...] = ()

    @property
    def accepted(self) -> tuple[str, ...]:
        """Every spelling the schema lists for this product, its code first."""
        return (self.code, *self.spellings)


# The UI guide's order, which is the codes' alphabetical order.
REGULATIONS: tuple[Regulation, ...] = (
    Regulation("apa_aus", "APA (Australia)", "Australia Privacy Act"),
    Regulation("ccpa", "CCPA (California)", "California Consumer Privacy Act"),
    Regulation("cpa_co_usa", "CPA (Colorado)", "Colorado Privacy Act"),
    Regulation("cpra_ca_usa", "CPRA (California)", "California Privacy Rights Act"),
    Regulation("ctdpa_ct_usa", "CTDPA (Connecticut)", "Connecticut Data Privacy Act"),
    Regulation("dpdpa_de_usa", "DPDPA (Delaware)", "Delaware Personal Data Privacy Act"),
    Regulation("fdbr_fl_usa", "FDBR (Florida)", "Florida Digital Bill of Rights"),
    Regulation("gdpr", "GDPR (EU)", "General Data Protection Regulation"),
    Regulation(
        "hipaa_usa", "HIPAA (United States)", "Health Insurance Portability and Accountability Act"
    ),
    Regulation("icdpa_ia_usa", "ICDPA (Iowa)", "Iowa Consumer Data Protection Act"),
    Regulation("lgpd_bra", "LGPD (Brazil)", "Lei Geral de Proteção de Dados"),
    Regulation("mcdpa_mn_usa", "MCDPA (Minnesota)", "Minnesota Consumer Data Privacy Act"),
    Regulation("mcdpa_mt_usa", "MCDPA (Montana)", "Montana Consumer Data Privacy Act"),
    Regulation("mhmda_wa_usa", "MHMDA (Washington)", "Washington My Health My Data Act"),
    Regulation("modpa_md_usa", "MODPA (Maryland)", "Maryland Online Data Privacy Act"),
    Regulation("ndpa_ne_usa", "NDPA (Nebraska)", "Nebraska Data Protection Act"),
    Regulation("nhpa_nh_usa", "NHPA (New Hampshire)", "New Hampshire Privacy Act"),
    Regulation("njdpa_nj_usa", "NJDPA (New Jersey)", "New Jersey Data Protection Act"),
    Regulation("nzpa_nzl", "NZPA (New Zealand)", "Privacy Act 2020"),
    Regulation("ocpa_or_usa", "OCPA (Oregon)", "Oregon Consumer Privacy Act"),
    Regulation("pdpa_tha", "PDPA (Thailand)", "Personal Data Protection Act"),
    Regulation("pipa_kor", "PIPA (South Korea)", "Personal Information Protection Act"),
    Regulation("ql25_qc_can", "QL25 (Quebec)", "Quebec Law 25"),
    Regulation("tdpsa_tx_usa", "TDPSA (Texas)", "Texas Data Privacy and Security Act"),
    Regulation("tipa_tn_usa", "TIPA (Tennessee)", "Tennessee Information Protection Act"),
    Regulation("ucpa_ut_usa", "UCPA (Utah)", "Utah Consumer Privacy Act"),
    Regulation("vcdpa_va_usa", "VCDPA (Virginia)", "Virginia Consumer Data Protection Act"),
)

# Retired short name → its current code. Both are in the spec's enum (2026-06-11) and
# absent from the UI guide: never written by this project, taken by the emulator.
RETIRED_REGULATIONS: Mapping[str, str] = MappingProxyType(
    {"dpdpa": "dpdpa_de_usa", "ql25": "ql25_qc_can"}
)

# The appendix's current table, in its order.
PRODUCTS: tuple[Product, ...] = (
    Product("analytics", "Adobe Analytics", ("Analytics",)),  # the spec's example
    Product("audienceManager", "Adobe Audience Manager", ("AudienceManager",)),  # older table
    Product("adCloud", "Adobe Advertising", ("AdCloud",)),
    # "ProfileService": the Profile and data lake privacy guides' examples.
    Product("profileService", "Adobe Experience Platform (Profile store)", ("ProfileService",)),
    Product("AdobeCloudPlatform", "Adobe Experience Platform (data lake)", ("aepDataLake",)),
    Product("campaign", "Adobe Campaign", ("Campaign",)),
    Product("target", "Adobe Target", ("Target",)),
    Product("CRS", "Customer Attributes"),
    Product("cjm", "Adobe Journey Optimizer"),
    Product("marketo", "Marketo Engage"),
    # "Identity": the older table and the Identity Service privacy guide.
    Product("identity", "Identity Service", ("Identity",)),
    Product("marketomeasure", "Marketo Measure"),
    Product("commerceMarketingData", "Adobe Commerce"),
)

_REGULATIONS_BY_CODE = {r.code: r for r in REGULATIONS}
_PRODUCTS_BY_SPELLING = {s.lower(): p for p in PRODUCTS for s in p.accepted}


def regulation_codes() -> tuple[str, ...]:
    """The current regulation codes, in the table's order (what the schema lists)."""
    return tuple(r.code for r in REGULATIONS)


def find_regulation(code: str) -> Regulation | None:
    """The regulation ``code`` names: a current code, or a retired one mapped to its
    successor; ``None`` for anything else. Codes are matched exactly, as Adobe's guides
    document no other spelling."""
    return _REGULATIONS_BY_CODE.get(RETIRED_REGULATIONS.get(code, code))


def product_spellings() -> tuple[str, ...]:
    """Every product spelling the schema lists: each product's code, then its other
    spellings, in the table's order."""
    return tuple(s for p in PRODUCTS for s in p.accepted)


def find_product(code: str) -> Product | None:
    """The product ``code`` names, ignoring case as Adobe does; ``None`` if none."""
    return _PRODUCTS_BY_SPELLING.get(code.lower())


def product_key(code: str) -> str:
    """What makes two ``include`` values the same product: the product's code for a
    known spelling (so ``aepDataLake`` and ``AdobeCloudPlatform`` are one), else the
    lowercased value."""
    product = find_product(code)
    return product.code if product is not None else code.lower()
