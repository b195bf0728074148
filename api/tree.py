"""The «ИСУ» screens' object tree and «Информация» pages (DESIGN §5, S001 §10–10.2).

- ``GET /contracts``: the «Договор» list, contracts with meters the caller sees;
- ``GET /contracts/{number}/tree``: one tree per energy object, filtered by energy object and by
  name («Поиск» keeps whole trees that hold a matching node, S001 Fig. 167);
- ``GET /nodes/{id}``: a node's information blocks;
- ``GET /meters/{meter_id}``: the meter's eight information blocks.

Node ids are ``eo:<id>``, ``cp:<id>``, ``mp:<id>`` (the registry tables' surrogate ids, stable
across imports, which update nodes in place) and ``meter:<meter_id>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from api.dependencies import Services, caller_scope, services
from api.errors import error_responses
from api.formats import billing_ratio, local_isoformat, ratio_text, zone_info
from api.queries import Scope
from api.schemas import example_of
from api.tree_queries import (
    Row,
    TreeRow,
    find_connection_point,
    find_contract,
    find_energy_object,
    find_meter_registry,
    find_metering_point,
    list_contracts,
    tree_rows,
)
from api.tree_schemas import (
    BLOCK_TITLES,
    CharacteristicsBlock,
    ConnectionPointBlock,
    ConsumerBlock,
    ContractBlock,
    ContractSummary,
    ContractTree,
    EnergyObjectBlock,
    IdentificationBlock,
    InformationBlock,
    InstallationBlock,
    LifeCycleBlock,
    MeterInformation,
    MeteringPointBlock,
    MetrologyBlock,
    ModelPassportBlock,
    NodeInformation,
    NodeKind,
    TreeNode,
)
from core.model import ID_PATTERN

__all__ = ["router"]

router = APIRouter(tags=["tree"])

CallerScope = Annotated[Scope, Depends(caller_scope)]
Shared = Annotated[Services, Depends(services)]

#: Contract numbers as the registry allows them (migration 004).
CONTRACT_PATTERN = r"^[0-9A-Za-z./_-]{1,40}$"
#: ``eo:12``, ``cp:5``, ``mp:7`` (ids up to 18 digits fit a bigint) or ``meter:<meter_id>``.
NODE_ID_PATTERN = r"^((eo|cp|mp):[1-9][0-9]{0,17}|meter:[A-Za-z0-9._-]{1,64})$"

ContractNumber = Annotated[
    str,
    Path(pattern=CONTRACT_PATTERN, description="the contract's number", examples=["321654988"]),
]
NodeId = Annotated[
    str,
    Path(
        pattern=NODE_ID_PATTERN,
        description="a node id from the tree: eo:<n>, cp:<n>, mp:<n> or meter:<meter_id>",
        examples=["eo:12"],
    ),
]
MeterId = Annotated[
    str, Path(pattern=ID_PATTERN, description="the meter's id", examples=["m230-40680048"])
]


def _ok(example: Any, description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"description": description, "content": {"application/json": {"example": example}}}
    }


# --- the tree -------------------------------------------------------------------------------


def natural_key(text: str) -> tuple[tuple[Any, ...], str]:
    """Sort key that orders digit runs as numbers (``2`` before ``10``), then any case."""
    parts = re.split(r"([0-9]+)", text)
    return tuple(int(p) if i % 2 else p.casefold() for i, p in enumerate(parts)), text


def _meter_name(model: str | None, serial: str | None, meter_id: str) -> str:
    if model and serial:
        return f"{model} № {serial}"
    if serial:
        return f"№ {serial}"
    return model or meter_id


def _node(kind: NodeKind, key: object, number: str, name: str) -> dict[str, Any]:
    return {
        "id": f"{kind.prefix}:{key}",
        "kind": kind,
        "number": number,
        "name": name,
        "meter_id": None,
        "model": None,
        "serial_number": None,
        "children": {},
    }


def build_trees(rows: Iterable[TreeRow]) -> list[TreeNode]:
    """The forest the rows describe, each level sorted by number."""
    forest: dict[str, dict[str, Any]] = {}
    for row in rows:
        node = forest.setdefault(
            f"eo:{row.eo_id}",
            _node(NodeKind.ENERGY_OBJECT, row.eo_id, row.eo_number, row.eo_name),
        )
        if row.cp_id is None or row.cp_number is None or row.cp_name is None:
            continue
        node = node["children"].setdefault(
            f"cp:{row.cp_id}",
            _node(NodeKind.CONNECTION_POINT, row.cp_id, row.cp_number, row.cp_name),
        )
        if row.mp_id is None or row.mp_number is None or row.mp_name is None:
            continue
        node = node["children"].setdefault(
            f"mp:{row.mp_id}",
            _node(NodeKind.METERING_POINT, row.mp_id, row.mp_number, row.mp_name),
        )
        if row.meter_id is None:
            continue
        meter = _node(
            NodeKind.METER,
            row.meter_id,
            row.serial_number or row.meter_id,
            _meter_name(row.model, row.serial_number, row.meter_id),
        )
        meter.update(meter_id=row.meter_id, model=row.model, serial_number=row.serial_number)
        node["children"][meter["id"]] = meter
    return _sorted(forest)


def _sorted(level: dict[str, dict[str, Any]]) -> list[TreeNode]:
    nodes = sorted(level.values(), key=lambda node: (natural_key(node["number"]), node["id"]))
    return [TreeNode(**{**node, "children": _sorted(node["children"])}) for node in nodes]


def _contains(node: TreeNode, needle: str) -> bool:
    return needle in node.name.casefold() or any(_contains(c, needle) for c in node.children)


def keep_matching(trees: list[TreeNode], q: str | None) -> list[TreeNode]:
    """The whole trees that hold a node whose name contains ``q`` in any case (S001 Fig. 167)."""
    if not q:
        return trees
    needle = q.casefold()
    return [tree for tree in trees if _contains(tree, needle)]


@router.get(
    "/contracts",
    summary="Contracts with meters visible to the caller (the «Договор» list)",
    response_model=list[ContractSummary],
    responses={
        **_ok([example_of(ContractSummary)], "Contracts sorted by number; [] when none"),
        **error_responses(503),
    },
)
async def get_contracts(scope: CallerScope, shared: Shared) -> list[ContractSummary]:
    async with shared.connection() as conn:
        contracts = await list_contracts(conn, scope)
    contracts.sort(key=lambda contract: natural_key(contract.number))
    return [ContractSummary(number=c.number, name=c.name) for c in contracts]


@router.get(
    "/contracts/{number:path}/tree",
    summary="The contract's object trees, one per energy object",
    response_model=ContractTree,
    responses={
        **_ok(example_of(ContractTree), "Trees sorted by number at every level"),
        **error_responses(404, 422, 503),
    },
)
async def get_tree(
    number: ContractNumber,
    scope: CallerScope,
    shared: Shared,
    energy_object: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=40,
            description="keeps only the energy object with this number («Энергообъект»)",
            examples=["3216549882"],
        ),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=100,
            description="keeps the whole trees that hold a node whose name contains this text, "
            "in any case («Поиск»)",
            examples=["ввод"],
        ),
    ] = None,
) -> ContractTree:
    async with shared.connection() as conn:
        contract = await find_contract(conn, scope, number)
        if contract is None:
            raise HTTPException(status_code=404, detail=f"contract {number!r} not found")
        rows = await tree_rows(conn, scope, contract.id, energy_object)
    return ContractTree(
        contract=ContractSummary(number=contract.number, name=contract.name),
        trees=keep_matching(build_trees(rows), q),
    )


# --- information blocks ---------------------------------------------------------------------


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else ratio_text(Decimal(value))


def _newest(*moments: datetime | None) -> datetime | None:
    return max((m for m in moments if m is not None), default=None)


def _block(kind: str, as_of: datetime | None, zone: tzinfo) -> dict[str, Any]:
    return {"type": kind, "title": BLOCK_TITLES[kind], "as_of": local_isoformat(as_of, zone)}


def _object_block(row: Row, zone: tzinfo) -> EnergyObjectBlock:
    return EnergyObjectBlock(
        **_block("energy_object", row["updated_at"], zone),
        address=row["address"],
        name=row["name"],
        number=row["number"],
        phone_1=row["phone_1"],
        phone_2=row["phone_2"],
        email=row["email"],
        time_zone=row["time_zone"],
        attributes=row["attributes"],
    )


def _connection_block(row: Row, zone: tzinfo) -> ConnectionPointBlock:
    return ConnectionPointBlock(
        **_block("connection_point", row["updated_at"], zone),
        name=row["name"],
        number=row["number"],
        voltage_kv=_decimal(row["voltage_kv"]),
        max_power_kw=_decimal(row["max_power_kw"]),
        grid_company=row["grid_company"],
        attributes=row["attributes"],
    )


def _metering_block(row: Row, zone: tzinfo) -> MeteringPointBlock:
    return MeteringPointBlock(
        **_block("metering_point", row["updated_at"], zone),
        name=row["name"],
        number=row["number"],
        ats_code=row["ats_code"],
        attributes=row["attributes"],
    )


def meter_blocks(row: Row, zone: ZoneInfo) -> list[InformationBlock]:
    """The eight blocks of the meter's «Информация» tab, in the seed's order (S001 §10.2)."""
    meter_at = row["registry_updated_at"]
    contract_at = row["contract_updated_at"]
    ct_ratio, vt_ratio = Decimal(row["ct_ratio"]), Decimal(row["vt_ratio"])
    return [
        IdentificationBlock(
            **_block("identification", meter_at, zone),
            meter_id=row["meter_id"],
            mac_address=row["mac_address"],
            model=row["model"],
            serial_number=row["serial_number"],
        ),
        LifeCycleBlock(
            **_block("life_cycle", meter_at, zone),
            commissioned_on=row["commissioned_on"],
            isu_connected_on=row["isu_connected_on"],
            registered=row["registered"],
        ),
        MetrologyBlock(
            **_block("metrology", meter_at, zone),
            verified_on=row["verified_on"],
            next_verification_on=row["next_verification_on"],
        ),
        ModelPassportBlock(
            **_block("model_passport", meter_at, zone),
            model=row["model"],
            accuracy_class=row["accuracy_class"],
            rated_voltage_v=_decimal(row["rated_voltage_v"]),
            rated_current_a=row["rated_current_a"],
            phases=row["phases"],
        ),
        InstallationBlock(
            **_block("installation", _newest(meter_at, row["mp_updated_at"]), zone),
            installed_on=row["installed_on"],
            install_place=row["install_place"],
            metering_point=row["mp_number"],
            metering_point_name=row["mp_name"],
            ats_code=row["ats_code"],
        ),
        CharacteristicsBlock(
            **_block("characteristics", meter_at, zone),
            capacity=row["capacity"],
            ct_ratio=ratio_text(ct_ratio),
            vt_ratio=ratio_text(vt_ratio),
            ratio=ratio_text(billing_ratio(ct_ratio, vt_ratio)),
            time_zone=zone.key,
            attributes=row["attributes"],
        ),
        ConsumerBlock(
            **_block("consumer", contract_at, zone),
            name=row["consumer_name"],
            inn=row["consumer_inn"],
        ),
        ContractBlock(
            **_block("contract", _newest(contract_at, row["eo_updated_at"]), zone),
            number=row["contract_number"],
            name=row["contract_name"],
            signed_on=row["signed_on"],
            zone_schedule=row["zone_schedule"],
            energy_object=row["eo_number"],
            energy_object_name=row["eo_name"],
            attributes=row["contract_attributes"] or {},
        ),
    ]


def _not_found(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"{what} not found")


@router.get(
    "/nodes/{node_id}",
    summary="A node's information blocks (the «Информация» page)",
    response_model=NodeInformation,
    responses={
        **_ok(example_of(NodeInformation), "The node and its blocks, each with its as_of"),
        **error_responses(404, 422, 503),
    },
)
async def get_node(node_id: NodeId, scope: CallerScope, shared: Shared) -> NodeInformation:
    prefix, key = node_id.split(":", 1)
    async with shared.connection() as conn:
        if prefix == "meter":
            meter = await find_meter_registry(conn, scope, key)
            if meter is None:
                raise _not_found(f"node {node_id!r}")
            return _meter_node(meter, shared.default_time_zone)
        finders = {
            "eo": (find_energy_object, NodeKind.ENERGY_OBJECT),
            "cp": (find_connection_point, NodeKind.CONNECTION_POINT),
            "mp": (find_metering_point, NodeKind.METERING_POINT),
        }
        find, kind = finders[prefix]
        row = await find(conn, scope, int(key))
    if row is None:
        raise _not_found(f"node {node_id!r}")
    zone = zone_info(row["time_zone"], shared.default_time_zone)
    block: InformationBlock
    if kind is NodeKind.ENERGY_OBJECT:
        block, parent_id = _object_block(row, zone), None
    elif kind is NodeKind.CONNECTION_POINT:
        block, parent_id = _connection_block(row, zone), f"eo:{row['energy_object_id']}"
    else:
        block, parent_id = _metering_block(row, zone), f"cp:{row['connection_point_id']}"
    return NodeInformation(
        id=node_id,
        kind=kind,
        number=row["number"],
        name=row["name"],
        contract=row["contract_number"],
        parent_id=parent_id,
        blocks=[block],
    )


def _meter_node(row: Row, default_zone: str) -> NodeInformation:
    zone = zone_info(row["time_zone"], default_zone)
    return NodeInformation(
        id=f"meter:{row['meter_id']}",
        kind=NodeKind.METER,
        number=row["serial_number"] or row["meter_id"],
        name=_meter_name(row["model"], row["serial_number"], row["meter_id"]),
        contract=row["contract_number"],
        parent_id=None if row["mp_id"] is None else f"mp:{row['mp_id']}",
        blocks=meter_blocks(row, zone),
    )


@router.get(
    "/meters/{meter_id}",
    summary="The meter's information blocks (the «Информация» tab)",
    response_model=MeterInformation,
    responses={
        **_ok(example_of(MeterInformation), "Eight blocks, always present, in this order"),
        **error_responses(404, 422, 503),
    },
)
async def get_meter(meter_id: MeterId, scope: CallerScope, shared: Shared) -> MeterInformation:
    async with shared.connection() as conn:
        row = await find_meter_registry(conn, scope, meter_id)
    if row is None:
        raise _not_found(f"meter {meter_id!r}")
    zone = zone_info(row["time_zone"], shared.default_time_zone)
    return MeterInformation(
        meter_id=row["meter_id"],
        node_id=f"meter:{row['meter_id']}",
        parent_id=None if row["mp_id"] is None else f"mp:{row['mp_id']}",
        contract=row["contract_number"],
        time_zone=zone.key,
        blocks=meter_blocks(row, zone),
    )
