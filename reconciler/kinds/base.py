"""The interface every request kind implements, and the values kinds exchange with the core.

A kind is one module (``record_delete``, ``privacy_job``, ``consent_opt_out``,
``dataset_expiration``) holding one :class:`RequestKind`: its schema, how its
identities are read, what it targets, what can change after it is applied,
how it is created at Adobe, found again by its tag, updated, cancelled, and
what its statuses mean. The planner, the applier, the remote reader, status,
the rules and the reporters ask the kind; none of them branches on a kind's
name, so a kind that is not registered is an error wherever it would reach.

What reaches Adobe takes the repository's
:class:`~reconciler.reconcile.tagging.Scope`: the tag it writes, and which tagged
objects are its own (another scope's never reach the core).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from reconciler.adobe.errors import NotFoundError
from reconciler.errors import ReconcilerError
from reconciler.reconcile.deadlines import Period
from reconciler.reconcile.tagging import Scope, read_tag

if TYPE_CHECKING:
    from reconciler.adobe import AdobeClient
    from reconciler.check.findings import Finding
    from reconciler.model import Request
    from reconciler.scaffold.csvids import CsvRow
    from reconciler.scaffold.options import Options
    from reconciler.settings import Settings
    from reconciler.yamlfile import PathKey

# The fields every kind may change after it is applied (and that no fingerprint covers).
DESCRIPTIVE_FIELDS = ("displayName", "description")


def day_of(stamp: str) -> date | None:
    """The UTC day of a recorded instant (``…Z``), or None when it is not one."""
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC).date()
    except ValueError:
        return None


def utc_now() -> str:
    """Now, in UTC, as every record of the project writes it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class UnknownKindError(ReconcilerError, ValueError):
    """A ``kind`` no registered module implements."""


class NotSupportedError(ReconcilerError):
    """What a kind cannot do at Adobe (update a privacy job, cancel a work order)."""


@dataclass(frozen=True)
class RemoteJob:
    """One privacy job Adobe created for a request (one per user per product)."""

    job_id: str
    user_key: str
    action: str = ""
    product: str = ""


@dataclass(frozen=True)
class StatusRecord:
    """The last remote status seen by ``status`` or ``apply``."""

    value: str
    observed_at: str
    products: tuple[tuple[str, str], ...] = ()
    # Adobe's response codes other than success, by product: (product, code).
    codes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RemoteObject:
    """What the core needs to know of one remote object: ids, status and mutable fields.

    ``fields`` holds the mutable fields as Adobe has them (``description`` with
    its tag) beyond ``displayName`` and ``description``, e.g. an expiration's
    ``expiry``."""

    remote_id: str
    display_name: str = ""
    description: str = ""  # as stored at Adobe, tag included
    created_at: str = ""
    user_key: str = ""
    action: str = ""
    product: str = ""
    request_id: str = ""
    status: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)
    products: tuple[tuple[str, str], ...] = ()
    # What Adobe says the object acts on (its dataset, its identity count, its action), as
    # :meth:`RequestKind.facts` words it: what tells a request's own object from another
    # one carrying the same tag. Only what Adobe returned; a fact it omits is not compared.
    facts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Created:
    """What a create returned: the remote objects and the status to record."""

    objects: tuple[RemoteObject, ...]
    status: str
    request_id: str = ""


@dataclass(frozen=True)
class Listing:
    """What one kind read from Adobe for the planner: tagged objects by request name,
    and the objects of ledger entries by remote id."""

    by_name: Mapping[str, Sequence[RemoteObject]] = field(default_factory=dict)
    by_id: Mapping[str, RemoteObject] = field(default_factory=dict)
    # What the plan must say about how Adobe was read (a search found untrustworthy).
    notes: tuple[str, ...] = ()


def grouped(units: Sequence[CsvRow]) -> dict[str, list[str]]:
    """Identity values by namespace, in the order they come."""
    groups: dict[str, list[str]] = {}
    for unit in units:
        for identity in unit.identities:
            groups.setdefault(identity.namespace, []).append(identity.value)
    return groups


class Applied(Protocol):
    """What a kind reads of a ledger entry (``reconcile.ledger.Entry`` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def remote_id(self) -> str | None: ...
    @property
    def jobs(self) -> tuple[RemoteJob, ...]: ...
    @property
    def status(self) -> StatusRecord | None: ...
    @property
    def submitted_at(self) -> str: ...
    @property
    def sandbox(self) -> str | None: ...


class RequestKind(ABC):
    """One request kind. Subclasses set the class attributes and implement the Adobe side."""

    #: The name in request files (``kind: RecordDelete``).
    value: ClassVar[str]
    #: Its JSON Schema in ``schemas/``.
    schema: ClassVar[str]
    #: The folder ``reconciler new`` and ``init`` use under ``requests/``.
    folder: ClassVar[str]
    #: What Adobe calls one object of this kind, for messages.
    noun: ClassVar[str]
    #: The ledger's key for the remote id (``remote.workorderId``); "" when there is none.
    ledger_key: ClassVar[str] = ""
    #: Spec fields that may change after applying (excluded from the fingerprint).
    mutable_fields: ClassVar[tuple[str, ...]] = DESCRIPTIVE_FIELDS
    #: Whether the mutable fields can be changed at Adobe (an ``update`` action).
    updatable: ClassVar[bool] = False
    #: Whether a declared ``spec.cancelled: true`` can be carried out (a ``cancel``).
    cancellable: ClassVar[bool] = False
    #: Whether Adobe keeps an object that can be found again by its tag. When not, a
    #: create with an unknown outcome is sent again: only for kinds where that is harmless.
    findable: ClassVar[bool] = True
    #: Whether the applier looks for the tag right before creating (else the plan's
    #: listing, made under the same lock, is that look).
    look_before_create: ClassVar[bool] = True
    #: The status recorded for an object found by its tag when the listing shows none.
    found_status: ClassVar[str] = "unknown"
    #: Whether ``datasetId: ALL`` (every dataset of the sandbox) means something here.
    all_datasets: ClassVar[bool] = False
    #: Adobe's own limit of identities in one object of this kind, if it has one.
    max_identities: ClassVar[int | None] = None
    #: Statuses that can no longer change.
    final_statuses: ClassVar[frozenset[str]] = frozenset()
    #: Final statuses that mean Adobe did what was asked (not failed, not cancelled).
    done_statuses: ClassVar[frozenset[str]] = frozenset()
    #: Statuses in which the mutable fields can still be changed at Adobe.
    open_statuses: ClassVar[frozenset[str]] = frozenset()
    #: How many units (:meth:`batch_size`) one submission of several requests holds at
    #: most (Adobe's limit); only kinds whose :meth:`batch_key` is not None use it.
    max_batch: ClassVar[int] = 1

    # -- `reconciler new` (kinds it does not write keep ``new_unit`` None) --------------

    #: What one unit read from a CSV is called, one and many; None: `new` does not
    #: write this kind (it names no identity, or is written by hand).
    new_unit: ClassVar[tuple[str, str] | None] = None
    #: Whether a unit is a user (a CSV row of identities) rather than one identity.
    new_per_user: ClassVar[bool] = False
    #: The flags of `new` only this kind takes, and the Options field each sets.
    new_flags: ClassVar[Mapping[str, str]] = {}

    def new_check(self, options: Options) -> dict[str, Any]:
        """Refuse this kind's flags when missing or malformed; the Options fields to
        replace (normalised values, defaults)."""
        return {}

    def new_limits(self, per_request: int) -> tuple[int, int | None, int | None]:
        """At most how many identities, users and values per namespace one request holds."""
        return per_request, None, None

    def new_units_problem(
        self, options: Options, source: str, units: Sequence[CsvRow]
    ) -> str | None:
        """Why these units cannot make requests of this kind with these options, or None."""
        return None

    def new_spec(
        self, options: Options, units: Sequence[CsvRow], first_user: int, part: str
    ) -> dict[str, Any]:
        """The ``spec`` of one request holding ``units``: ``first_user`` numbers a privacy
        job's users across parts, ``part`` ends the display name of one part of several."""
        raise NotSupportedError(f"`reconciler new` does not write {self.value} requests")

    def new_notes(self, options: Options) -> list[str]:
        """Comment lines above a new request: what merging it does."""
        return []

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"Kind({self.value!r})"

    # -- the file -----------------------------------------------------------------------

    def identity_paths(self, spec: Mapping[str, Any]) -> Iterator[tuple[str, str, PathKey]]:
        """Every identity (namespace, value as stored, path in the document), in file order."""
        return iter(())

    @abstractmethod
    def target(self, spec: Mapping[str, Any]) -> str:
        """What the request acts on, in a plan line (never an identity)."""

    def rules(self, request: Request, settings: Settings) -> Iterable[Finding]:
        """Findings only this kind has (the general rules run for every kind)."""
        return ()

    def across(self, requests: Iterable[Request]) -> Iterable[Finding]:
        """Findings about several requests of this kind together (``requests`` holds every
        kind; a kind looks at its own)."""
        return ()

    def too_soon(self, request: Request, now: datetime) -> str | None:
        """Why Adobe would refuse to create or update the request at ``now``, or None."""
        return None

    def desired(self, request: Request) -> dict[str, str]:
        """The mutable fields beyond displayName and description as Adobe would hold them."""
        return {}

    def cancelled(self, request: Request) -> bool:
        """Whether the file declares the object cancelled."""
        return False

    def facts(self, request: Request) -> dict[str, str]:
        """What Adobe would report about this request's object, in the words of
        :attr:`RemoteObject.facts` (e.g. ``{"dataset": …, "identity count": …}``)."""
        return {}

    def deadline_period(self, request_spec: Mapping[str, Any]) -> Period | None:
        """The response period of a data subject's request of this kind with this ``spec``
        (:mod:`reconciler.reconcile.deadlines`); None: the kind answers no data subject
        (data cleansing, retention), so ``metadata.receivedAt`` sets no deadline."""
        return None

    def done_on(self, entry: Applied) -> date | None:
        """The day Adobe was seen to have finished the applied request (a deadline is met
        or missed on it); None while it is not finished, or failed."""
        status = entry.status
        if status is None or status.value not in self.done_statuses:
            return None
        return day_of(status.observed_at)

    def consumption(self, identity_count: int) -> dict[str, int]:
        """What one object of this kind holding ``identity_count`` identities consumes of
        Adobe's quotas, by quota name (:mod:`reconciler.adobe.quotas`); none by default."""
        return {}

    def own(self, request: Request, found: Iterable[RemoteObject]) -> tuple[RemoteObject, ...]:
        """Of the objects found by the request's tag, those that are the request's: acting on
        what the file declares (see :meth:`mismatch`), narrowed by :meth:`choose`."""
        return self.choose([o for o in found if not self.mismatch(request, o)])

    def mismatch(self, request: Request, obj: RemoteObject) -> tuple[str, ...]:
        """How ``obj``, found at Adobe by this request's tag or its ledger id, differs from
        what the file declares; empty when nothing Adobe returned contradicts it.

        A tag names a request, not a deletion: another clone or repository may have
        tagged its own object with the same name. Adopting one whose dataset or count
        differs would record the declared deletion as done while it was never sent."""
        wanted = self.facts(request)
        return tuple(
            f"{key} is {obj.facts[key]} at Adobe but {value} in the file"
            for key, value in wanted.items()
            if key in obj.facts and obj.facts[key] != value
        )

    # -- Adobe ------------------------------------------------------------------------

    @abstractmethod
    def read(
        self,
        client: AdobeClient,
        unrecorded: Sequence[Request],
        applied: Sequence[Applied],
        today: date,
        scope: Scope,
    ) -> Listing:
        """What the planner needs: objects carrying our tag for requests not in the ledger
        yet, and the current state of applied ones, in as few calls as the API allows."""

    @abstractmethod
    def find(
        self, client: AdobeClient, request: Request, today: date, scope: Scope
    ) -> list[RemoteObject]:
        """The objects at Adobe carrying this request's tag in ``scope`` (or without a
        scope), after a lost response."""

    def find_since(
        self, client: AdobeClient, request: Request, since: date, today: date, scope: Scope
    ) -> list[RemoteObject]:
        """The objects carrying this request's tag in ``scope`` among those created from
        ``since`` to ``today``, read without Adobe's search where the API allows and
        matched here: for a create whose outcome is unknown, a search index that lags or
        misses must not be the only look. By default the same as :meth:`find`."""
        return self.find(client, request, today, scope)

    def choose(self, found: Sequence[RemoteObject]) -> tuple[RemoteObject, ...]:
        """Which of the tagged objects found are the request's (all of them by default)."""
        return tuple(found)

    def confirm(
        self,
        client: AdobeClient,
        request: Request,
        objects: Sequence[RemoteObject],
        scope: Scope,
    ) -> str | None:
        """Why the objects a create answered are not the request's, read back from Adobe
        where that is one call each; None when they are (or cannot be read back)."""
        return None

    @abstractmethod
    def create(self, client: AdobeClient, request: Request, scope: Scope) -> Created:
        """Create the request at Adobe, tagged in ``scope`` (raises ``OutcomeUnknownError``
        when unsure)."""

    # -- several requests in one submission (kinds whose batch_key is not None) ---------

    def batch_key(self, request: Request) -> Hashable | None:
        """What requests sent together in one submission must share (everything of the
        create but its units: a privacy job's regulation, products and options); None: the
        request is always sent alone (the default)."""
        return None

    def batch_size(self, request: Request) -> int:
        """How many of the submission's :attr:`max_batch` units the request takes."""
        return 1

    def create_batch(
        self, client: AdobeClient, requests: Sequence[Request], scope: Scope
    ) -> Mapping[str, Created]:
        """Create ``requests`` (of one :meth:`batch_key`) at Adobe in one submission, each
        tagged as :meth:`create` tags it; what the answer holds for each, by request name.

        A request the answer holds nothing (or not everything) for is left out: its outcome
        is unknown. Raises ``OutcomeUnknownError`` or ``ApiError`` for the whole submission."""
        raise NotSupportedError(f"{self.noun}s are not created several at a time")

    def find_batch(
        self, client: AdobeClient, requests: Sequence[Request], today: date, scope: Scope
    ) -> Mapping[str, list[RemoteObject]]:
        """:meth:`find` for several requests at once, by name (in as few calls as the API
        allows: after a lost answer to a batch, every request of it is looked for)."""
        return {r.name: self.find(client, r, today, scope) for r in requests}

    def update(self, client: AdobeClient, remote_id: str, request: Request, scope: Scope) -> str:
        """Change the mutable fields at Adobe, keeping the form of tag the object has
        (:meth:`Scope.retagged`); returns the status Adobe answered."""
        raise NotSupportedError(f"a {self.noun} cannot be changed at Adobe after it is created")

    def cancel(self, client: AdobeClient, remote_id: str) -> str:
        """Cancel the object at Adobe; returns the status Adobe answered."""
        raise NotSupportedError(f"a {self.noun} cannot be cancelled at Adobe")

    @abstractmethod
    def refresh(self, client: AdobeClient, entry: Applied) -> StatusRecord | None:
        """The current remote status of an applied request; None when Adobe keeps none."""

    def is_final(self, status: StatusRecord | None) -> bool:
        return status is not None and status.value in self.final_statuses


def declared_sandbox(request: Request) -> str | None:
    """The sandbox ``metadata.sandbox`` names, or None when the file names none."""
    value = request.metadata.get("sandbox")
    return value if isinstance(value, str) and value else None


def request_sandbox(request: Request, default: str | None) -> str | None:
    """The sandbox a request's object is in: ``metadata.sandbox``, else ``default`` (the
    settings' ``adobe.sandboxName``); None for organisation-wide kinds (Privacy Service)."""
    if not isinstance(request.kind, ListedKind):
        return None
    return declared_sandbox(request) or default


def recorded_sandbox(kind: RequestKind, recorded: str | None, default: str | None) -> str | None:
    """The sandbox a ledger entry of ``kind`` was applied in: the one it records, else (an
    entry written before sandboxes were recorded) ``default``; None for org-wide kinds."""
    if not isinstance(kind, ListedKind):
        return None
    return recorded or default


class ListedKind(RequestKind):
    """A kind whose objects Adobe lists in bulk (by the tag in their description) and
    gets one by one by id: Data Hygiene's work orders and dataset expirations.

    Each object lives in one sandbox (``x-sandbox-name``), and Adobe lists and gets it
    only there: a request's is ``metadata.sandbox`` or the client's default one
    (:meth:`sandbox`), a ledger entry's the one it records or the default. Everything
    is read, found, confirmed, updated and refreshed in that sandbox; the tag's scope
    still decides whose an object is.
    """

    def sandbox(self, request: Request, client: AdobeClient) -> str:
        """The sandbox of the request's object (``metadata.sandbox``, else the client's)."""
        return declared_sandbox(request) or client.config.sandbox_name

    @abstractmethod
    def list_tagged(self, client: AdobeClient, sandbox: str) -> Iterable[RemoteObject]:
        """Every object of ``sandbox`` carrying a tag of any scope (the listing may hold
        others: they are ignored)."""

    @abstractmethod
    def get_one(self, client: AdobeClient, remote_id: str, sandbox: str) -> RemoteObject:
        """One object of ``sandbox`` by id (raises ``NotFoundError``, also when the id is
        another sandbox's)."""

    def list_unsearched(self, client: AdobeClient, sandbox: str) -> Iterable[RemoteObject]:
        """Every object of ``sandbox``, listed without Adobe's search (tags are matched
        here): what the plan reads instead when the search is seen to miss tagged objects."""
        return self.list_tagged(client, sandbox)

    def read(
        self,
        client: AdobeClient,
        unrecorded: Sequence[Request],
        applied: Sequence[Applied],
        today: date,
        scope: Scope,
    ) -> Listing:
        if not unrecorded and not any(e.remote_id for e in applied):
            return Listing()
        # One listing per sandbox involved, not one ``sandboxName=*`` listing split
        # afterwards: the spec's work orders do not say which sandbox each is in, a
        # credential may be granted some sandboxes only, and a repository with one
        # sandbox reads what it always read. Each name's objects are taken from its
        # request's (or entry's) sandbox only: a tagged object in another sandbox is not
        # the request's, whatever its tag says.
        default = client.config.sandbox_name
        owner: dict[str, str] = {}
        ledger_ids: dict[str, list[Applied]] = defaultdict(list)
        for request in unrecorded:
            owner[request.name] = self.sandbox(request, client)
        for entry in applied:
            sandbox = entry.sandbox or default
            owner.setdefault(entry.name, sandbox)
            if entry.remote_id:
                ledger_ids[sandbox].append(entry)
        wanted = {owner[r.name] for r in unrecorded} | set(ledger_ids)
        by_name: dict[str, list[RemoteObject]] = defaultdict(list)
        by_id: dict[str, RemoteObject] = {}
        notes: list[str] = []
        for sandbox in sorted(wanted):
            listing = self._read_sandbox(client, sandbox, ledger_ids[sandbox], scope)
            for name, objects in listing.by_name.items():
                if owner.get(name, sandbox) == sandbox:
                    by_name[name].extend(objects)
            by_id.update(listing.by_id)
            where = f" in sandbox {sandbox}" if len(wanted) > 1 else ""
            notes.extend(note + where for note in listing.notes)
        return Listing(by_name, by_id, tuple(notes))

    def _read_sandbox(
        self, client: AdobeClient, sandbox: str, applied: Sequence[Applied], scope: Scope
    ) -> Listing:
        """One sandbox's objects carrying our tag, and those of its ``applied`` entries."""
        # Our objects by the request name in their tag and by id, completed by a get for each
        # applied entry the listing did not show (a tag edited by hand in Adobe's UI). Another
        # scope's objects are left out of both: another repository's, whatever their name.
        by_name: dict[str, list[RemoteObject]] = defaultdict(list)
        by_id: dict[str, RemoteObject] = {}
        for obj in self.list_tagged(client, sandbox):
            _, tag = read_tag(obj.description)
            if tag is None or not scope.owns(tag):
                continue
            by_id[obj.remote_id] = obj
            by_name[tag.name].append(obj)
        missed: list[str] = []
        for entry in applied:
            if entry.remote_id and entry.remote_id not in by_id:
                try:
                    obj = self.get_one(client, entry.remote_id, sandbox)
                except NotFoundError:
                    continue
                by_id[entry.remote_id] = obj
                if scope.untag(obj.description)[1] == entry.name:
                    missed.append(entry.name)
        if not missed:
            return Listing(by_name, by_id)
        # The search left out objects that carry their tag: what it did not return for a
        # request not in the ledger may exist too. Read everything without it this run.
        for obj in self.list_unsearched(client, sandbox):
            _, name = scope.untag(obj.description)
            if name is None or obj.remote_id in by_id:
                continue
            by_id[obj.remote_id] = obj
            by_name[name].append(obj)
        shown = ", ".join(missed[:3]) + (f" and {len(missed) - 3} more" if len(missed) > 3 else "")
        note = (
            f"Adobe's search for tagged {self.noun}s left out {len(missed)} that carry their "
            f"tag ({shown}): it was not trusted, and every {self.noun} was listed without it "
            "for this plan"
        )
        return Listing(by_name, by_id, (note,))

    def confirm(
        self,
        client: AdobeClient,
        request: Request,
        objects: Sequence[RemoteObject],
        scope: Scope,
    ) -> str | None:
        # By id the object is there at once (no listing lag): it must carry our tag, in the
        # request's sandbox. An answer naming an earlier object's id is caught here even
        # without a ledger.
        sandbox = self.sandbox(request, client)
        for obj in objects:
            try:
                stored = self.get_one(client, obj.remote_id, sandbox)
            except NotFoundError:
                return (
                    f"Adobe has no {self.noun} {obj.remote_id} in sandbox {sandbox}, which "
                    "the create answered"
                )
            _, tag = read_tag(stored.description)
            if tag is None or not scope.owns(tag) or tag.name != request.name:
                return f"{obj.remote_id}, which the create answered, carries " + (
                    f"the tag {tag}" if tag else "no tag"
                )
        return None

    def refresh(self, client: AdobeClient, entry: Applied) -> StatusRecord | None:
        if not entry.remote_id:
            return None
        try:
            obj = self.get_one(client, entry.remote_id, entry.sandbox or client.config.sandbox_name)
        except NotFoundError:
            return StatusRecord("not-found", utc_now())
        return StatusRecord(obj.status, utc_now(), obj.products)
