"""Reference data: member states, indicators, breakdowns, flags, population, finding codes, rules.

Reads the CSV files in `pipeline/reference/` (documented in its README) into one frozen `Reference`.
Every stage takes the `Reference` it needs as an argument; nothing here reads inputs or writes outputs.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from pipeline.errors import ReferenceDataError

REFERENCE_DIR = Path(__file__).parent / "reference"

TOTAL = "TOTAL"
# Units whose figures are counts of people or events: only these get a rate per 100,000 inhabitants.
RATE_UNITS = frozenset({"persons", "cases"})


@dataclass(frozen=True)
class MemberState:
    iso3: str
    iso2: str
    name: str
    member_from: int


@dataclass(frozen=True)
class Indicator:
    code: str
    category: str
    label: str
    unit: str
    iccs: str
    kind: str  # "count" (whole numbers) or "quantity" (decimals allowed)
    dimensions: tuple[str, ...]
    definition: str

    @property
    def is_count(self) -> bool:
        return self.kind == "count"

    @property
    def takes_rate(self) -> bool:
        return self.unit in RATE_UNITS


@dataclass(frozen=True)
class Category:
    code: str
    label: str
    order: int
    headline: str


@dataclass(frozen=True)
class Flag:
    code: str
    word: str
    kind: str
    meaning: str


@dataclass(frozen=True)
class FindingCode:
    code: str
    severity: str  # error | warning | info
    effect: str  # reject | drop-value | none
    meaning: str
    how_to_fix: str


@dataclass(frozen=True)
class ConsistencyPair:
    """A figure that should not exceed another: `part` <= `whole` (rules V06, V08, V11).

    The finding `code` (and so its severity, and whether the part is left out) comes from
    `consistency_pairs.csv`; `note` says why the pair holds, for the finding's message.
    """

    rule: str
    part: str
    whole: str
    code: str
    note: str


@dataclass(frozen=True)
class PopulationFigure:
    population: int
    year: int
    is_estimated: bool  # True when the figure is of an earlier year than asked for


@dataclass(frozen=True)
class Reference:
    member_states: tuple[MemberState, ...]
    indicators: tuple[Indicator, ...]
    categories: tuple[Category, ...]
    breakdown_values: dict[str, tuple[tuple[str, str], ...]]  # dimension -> ((value, label), ...)
    flags: tuple[Flag, ...]
    finding_codes: dict[str, FindingCode]
    population: dict[tuple[str, int], int] = field(repr=False)
    files: tuple[Path, ...] = field(repr=False, default=())
    consistency_pairs: tuple[ConsistencyPair, ...] = ()
    # (from unit, to unit), both `normalise_unit`d -> factor: value in `to` = value in `from` x factor
    unit_conversions: dict[tuple[str, str], float] = field(repr=False, default_factory=dict)

    # -- look-ups -------------------------------------------------------------------------------
    @cached_property
    def indicator_by_code(self) -> dict[str, Indicator]:
        return {ind.code: ind for ind in self.indicators}

    @cached_property
    def state_by_iso3(self) -> dict[str, MemberState]:
        return {ms.iso3: ms for ms in self.member_states}

    @cached_property
    def category_by_code(self) -> dict[str, Category]:
        return {cat.code: cat for cat in self.categories}

    def members_in(self, year: int) -> list[str]:
        """ISO3 codes of the states that were members in `year`: N of "n of N"."""
        return [ms.iso3 for ms in self.member_states if ms.member_from <= year]

    def breakdowns_of(self, indicator: Indicator) -> tuple[str, ...]:
        """`TOTAL` first, then `DIM=VALUE` for each dimension the indicator takes."""
        known = self._breakdowns.get(indicator.code)
        if known is not None and known[0] == indicator.dimensions:
            return known[1]
        return self._breakdown_keys(indicator)

    @cached_property
    def _breakdowns(self) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
        # Asked for every Data row read: built once per catalogue indicator.
        return {ind.code: (ind.dimensions, self._breakdown_keys(ind)) for ind in self.indicators}

    def _breakdown_keys(self, indicator: Indicator) -> tuple[str, ...]:
        keys = [TOTAL]
        for dim in indicator.dimensions:
            keys.extend(f"{dim}={value}" for value, _ in self.breakdown_values[dim])
        return tuple(keys)

    def breakdown_parts(self, indicator: Indicator) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
        """(dimension, the (indicator code, `DIM=VALUE`) key of each of its parts) for each dimension
        the indicator takes: what its total breaks into."""
        known = self._parts.get(indicator.code)
        if known is not None and known[0] == indicator.dimensions:
            return known[1]
        return self._parts_of(indicator)

    @cached_property
    def _parts(self) -> dict[str, tuple[tuple[str, ...], tuple[tuple[str, tuple[tuple[str, str], ...]], ...]]]:
        # Asked for every total of every submission: built once per catalogue indicator.
        return {ind.code: (ind.dimensions, self._parts_of(ind)) for ind in self.indicators}

    def _parts_of(self, indicator: Indicator) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
        return tuple((dim, tuple((indicator.code, f"{dim}={value}") for value, _ in self.breakdown_values[dim])) for dim in indicator.dimensions)

    def breakdown_label(self, key: str) -> str:
        if key == TOTAL:
            return "Total"
        dim, _, value = key.partition("=")
        return dict(self.breakdown_values.get(dim, ())).get(value, key)

    def population_for(self, iso3: str, year: int) -> PopulationFigure | None:
        """Population of `iso3` in `year`, or of the latest earlier year (flagged estimated).

        The World Bank series ends a year or two before the reporting year, so the latest figure
        stands in for the missing years and the rate built on it carries the flag `e`.
        """
        if (iso3, year) in self.population:
            return PopulationFigure(self.population[(iso3, year)], year, False)
        years = self._population_years.get(iso3, [])
        earlier = bisect.bisect_left(years, year)  # how many of the state's years come before `year`
        if not earlier:
            return None
        latest = years[earlier - 1]
        return PopulationFigure(self.population[(iso3, latest)], latest, True)

    @cached_property
    def _population_years(self) -> dict[str, list[int]]:
        # Asked for every row of the tables a year without a figure: each state's years in order, once.
        years: dict[str, list[int]] = {}
        for iso3, year in self.population:
            years.setdefault(iso3, []).append(year)
        return {iso3: sorted(found) for iso3, found in years.items()}

    @cached_property
    def flag_codes(self) -> frozenset[str]:
        return frozenset(f.code for f in self.flags)

    @cached_property
    def flag_by_word(self) -> dict[str, str]:
        return {f.word.casefold(): f.code for f in self.flags}

    def sha256_by_file(self) -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in self.files}


def normalise_unit(text: object) -> str:
    """Units compare case-insensitively and ignore repeated spaces: "Thousand  EUR" == "thousand eur"."""
    return " ".join(str(text).split()).casefold()


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def load_reference(directory: Path = REFERENCE_DIR) -> Reference:
    """Read every reference file; raise `ReferenceDataError` when they contradict each other."""

    member_states = tuple(
        MemberState(r["iso3"], r["iso2"], r["name"], int(r["member_from"]))
        for r in _rows(directory / "member_states.csv")
    )
    breakdown_values: dict[str, list[tuple[str, str]]] = {}
    for r in _rows(directory / "breakdowns.csv"):
        breakdown_values.setdefault(r["dimension"], []).append((r["value"], r["label"]))
    indicators = tuple(
        Indicator(
            code=r["code"],
            category=r["category"],
            label=r["label"],
            unit=r["unit"],
            iccs=r["iccs"],
            kind=r["kind"],
            dimensions=tuple(d for d in r["breakdowns"].split(";") if d),
            definition=r["definition"],
        )
        for r in _rows(directory / "indicators.csv")
    )
    categories = tuple(
        sorted(
            (Category(r["code"], r["label"], int(r["order"]), r["headline"]) for r in _rows(directory / "categories.csv")),
            key=lambda c: c.order,
        )
    )
    flags = tuple(Flag(r["code"], r["word"], r["kind"], r["meaning"]) for r in _rows(directory / "flags.csv"))
    finding_codes = {
        r["code"]: FindingCode(r["code"], r["severity"], r["effect"], r["meaning"], r["how_to_fix"])
        for r in _rows(directory / "finding_codes.csv")
    }
    population = {(r["country_iso3"], int(r["year"])): int(r["population"]) for r in _rows(directory / "population.csv")}
    pairs = tuple(ConsistencyPair(r["rule"], r["part"], r["whole"], r["code"], r["note"]) for r in _rows(directory / "consistency_pairs.csv"))
    conversions = {
        (normalise_unit(r["from_unit"]), normalise_unit(r["to_unit"])): float(r["factor"])
        for r in _rows(directory / "unit_conversions.csv")
    }

    ref = Reference(
        member_states=member_states,
        indicators=indicators,
        categories=categories,
        breakdown_values={k: tuple(v) for k, v in breakdown_values.items()},
        flags=flags,
        finding_codes=finding_codes,
        population=population,
        files=tuple(sorted(directory.glob("*.csv"))),
        consistency_pairs=pairs,
        unit_conversions=conversions,
    )
    problems = _inconsistencies(ref)
    if problems:
        raise ReferenceDataError("reference data in " + str(directory) + " is inconsistent: " + "; ".join(problems))
    return ref


def _inconsistencies(ref: Reference) -> list[str]:
    problems = []
    codes = [i.code for i in ref.indicators]
    if len(codes) != len(set(codes)):
        problems.append("indicator codes repeat")
    for ind in ref.indicators:
        if ind.category not in ref.category_by_code:
            problems.append(f"{ind.code}: unknown category {ind.category}")
        if ind.kind not in ("count", "quantity"):
            problems.append(f"{ind.code}: kind must be count or quantity")
        problems.extend(f"{ind.code}: unknown breakdown {d}" for d in ind.dimensions if d not in ref.breakdown_values)
    for cat in ref.categories:
        if ref.indicator_by_code.get(cat.headline, None) is None or ref.indicator_by_code[cat.headline].category != cat.code:
            problems.append(f"category {cat.code}: headline {cat.headline} is not one of its indicators")
    for fc in ref.finding_codes.values():
        if fc.severity not in ("error", "warning", "info") or fc.effect not in ("reject", "drop-value", "none"):
            problems.append(f"finding code {fc.code}: bad severity or effect")
    for pair in ref.consistency_pairs:
        name = f"consistency pair {pair.part} <= {pair.whole}"
        problems.extend(f"{name}: unknown indicator {c}" for c in (pair.part, pair.whole) if c not in ref.indicator_by_code)
        if pair.code not in ref.finding_codes:
            problems.append(f"{name}: finding code {pair.code} is not in finding_codes.csv")
    catalogue_units = {normalise_unit(i.unit) for i in ref.indicators}
    for (source, target), factor in ref.unit_conversions.items():
        if target not in catalogue_units or source in catalogue_units:
            problems.append(f"unit conversion {source} -> {target}: must convert another unit into a catalogue unit")
        if not factor > 0:
            problems.append(f"unit conversion {source} -> {target}: factor must be above 0")
    return problems
