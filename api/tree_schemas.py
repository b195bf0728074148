"""Response bodies of the object tree and the information pages (DESIGN §5, S001 §10–10.2).

Every information block names its kind in ``type``, carries the cabinet's Russian ``title`` and
its own ``as_of`` (the «Данные актуальны на» of the screen: when the registry last changed the
node the block comes from), then its fields. English keys; the field descriptions give the
labels the cabinet shows. A field the registry does not hold is ``null``.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from api.schemas import example_of

__all__ = [
    "BLOCK_TITLES",
    "CharacteristicsBlock",
    "ConnectionPointBlock",
    "ConsumerBlock",
    "ContractBlock",
    "ContractSummary",
    "ContractTree",
    "EnergyObjectBlock",
    "IdentificationBlock",
    "InformationBlock",
    "InstallationBlock",
    "LifeCycleBlock",
    "MeterInformation",
    "MeteringPointBlock",
    "MetrologyBlock",
    "ModelPassportBlock",
    "NodeInformation",
    "NodeKind",
    "TreeNode",
]

_LOCAL_TIME: JsonDict = {"format": "date-time"}
_AS_OF = "2023-12-26T15:57:42+03:00"


def _config(example: Any) -> ConfigDict:
    return ConfigDict(frozen=True, json_schema_extra={"examples": [example]})


class NodeKind(StrEnum):
    """The levels of the tree, top down; a node id is ``<prefix>:<key>`` (:attr:`prefix`)."""

    ENERGY_OBJECT = "energy_object"
    CONNECTION_POINT = "connection_point"
    METERING_POINT = "metering_point"
    METER = "meter"

    @property
    def prefix(self) -> str:
        return _PREFIXES[self]


_PREFIXES = {
    NodeKind.ENERGY_OBJECT: "eo",
    NodeKind.CONNECTION_POINT: "cp",
    NodeKind.METERING_POINT: "mp",
    NodeKind.METER: "meter",
}

#: The cabinet's title of each block type, in the order the pages show them.
BLOCK_TITLES = {
    "energy_object": "Характеристики энергообъекта",
    "connection_point": "Характеристики точки подключения",
    "metering_point": "Характеристики точки учёта",
    "identification": "Идентификационные данные",
    "life_cycle": "Жизненный цикл и состояние ИПУ",
    "metrology": "Метрологический статус и характеристики ИПУ",
    "model_passport": (
        "Электротехнические и метрологические характеристики модели ИПУ (из паспорта модели)"
    ),
    "installation": "Данные установки",
    "characteristics": "Характеристики",
    "consumer": "Характеристики Потребителя",
    "contract": "Характеристики договора",
}


class ContractSummary(BaseModel):
    """A contract of the «Договор» list; the cabinet shows it as «name (number)»."""

    model_config = _config({"number": "321654988", "name": "Стенд МЭС с СКЗИ-3ф ЮЛ"})

    number: str = Field(description="«Номер договора»")
    name: str = Field(description="«Наименование договора»")


class TreeNode(BaseModel):
    """A node of the object tree with its children, sorted by number (digits as numbers)."""

    model_config = _config(
        {
            "id": "mp:7",
            "kind": "metering_point",
            "number": "1",
            "name": "ВРУ-1, ввод 1",
            "meter_id": None,
            "model": None,
            "serial_number": None,
            "children": [
                {
                    "id": "meter:m230-40680048",
                    "kind": "meter",
                    "number": "40680048",
                    "name": "Меркурий 234 ARTM-03 № 40680048",
                    "meter_id": "m230-40680048",
                    "model": "Меркурий 234 ARTM-03",
                    "serial_number": "40680048",
                    "children": [],
                }
            ],
        }
    )

    id: str = Field(
        description="the node's id for GET /api/v1/nodes/{id}: eo:12, cp:5, mp:7, meter:M230-1"
    )
    kind: NodeKind
    number: str = Field(description="the registry's number; a meter's serial number (else its id)")
    name: str = Field(
        description="the name the contract gives the node; a meter's is «model № serial»"
    )
    meter_id: str | None = Field(description="meters only: the id its readings are kept under")
    model: str | None = Field(description="meters only: «Модель»")
    serial_number: str | None = Field(description="meters only: «Серийный(заводской) номер»")
    children: list[TreeNode] = Field(description="the next level down; [] for a meter")


_TREE_EXAMPLE = {
    "id": "eo:12",
    "kind": "energy_object",
    "number": "3216549882",
    "name": "Стенд МЭС с СКЗИ-3ф ЮЛ",
    "meter_id": None,
    "model": None,
    "serial_number": None,
    "children": [
        {
            "id": "cp:5",
            "kind": "connection_point",
            "number": "1",
            "name": "ТП-5, ввод 1",
            "meter_id": None,
            "model": None,
            "serial_number": None,
            "children": [example_of(TreeNode)],
        }
    ],
}


class ContractTree(BaseModel):
    """The object trees of one contract: one per energy object (S001 §10)."""

    model_config = _config({"contract": example_of(ContractSummary), "trees": [_TREE_EXAMPLE]})

    contract: ContractSummary
    trees: list[TreeNode] = Field(description="energy objects with their subtrees, by number")


def _as_of() -> Any:
    return Field(
        description="«Данные актуальны на»: when the registry last changed this information, "
        "with the object's UTC offset; null when the registry has none",
        json_schema_extra=_LOCAL_TIME,
    )


def _title() -> Any:
    return Field(description="the block's title as the cabinet shows it")


_ATTRIBUTES = "further display fields from the registry, label → value, shown as given"


class EnergyObjectBlock(BaseModel):
    """«Характеристики энергообъекта» (S001 Fig. 168)."""

    model_config = _config(
        {
            "type": "energy_object",
            "title": BLOCK_TITLES["energy_object"],
            "as_of": "2023-12-26T15:05:58+03:00",
            "address": "г. Москва, 123592, ул. Кулакова, д. 25, кор. 3",
            "name": "Стенд МЭС СКЗИ квартира",
            "number": "3216549871",
            "phone_1": "+7(495)980-59-00",
            "phone_2": "+7 (499) 550-03-33 доб. 6106",
            "email": "info@mosenergosbyt.ru",
            "time_zone": "Europe/Moscow",
            "attributes": {},
        }
    )

    type: Literal["energy_object"]
    title: str = _title()
    as_of: str | None = _as_of()
    address: str | None = Field(description="«Адрес энергообъекта»")
    name: str = Field(description="«Наименование энергообъекта»")
    number: str = Field(description="«Номер энергообъекта»")
    phone_1: str | None = Field(description="«Телефон 1»")
    phone_2: str | None = Field(description="«Телефон 2»")
    email: str | None = Field(description="«Электронный адрес»")
    time_zone: str = Field(description="IANA zone of the object's meters")
    attributes: dict[str, str] = Field(description=_ATTRIBUTES)


class ConnectionPointBlock(BaseModel):
    """«Характеристики точки подключения» (the seed shows no fields; the registry's)."""

    model_config = _config(
        {
            "type": "connection_point",
            "title": BLOCK_TITLES["connection_point"],
            "as_of": _AS_OF,
            "name": "ТП-5, ввод 1",
            "number": "1",
            "voltage_kv": "0.4",
            "max_power_kw": "150",
            "grid_company": "ПАО «Россети Московский регион»",
            "attributes": {},
        }
    )

    type: Literal["connection_point"]
    title: str = _title()
    as_of: str | None = _as_of()
    name: str = Field(description="«Наименование точки подключения»")
    number: str = Field(description="«Номер точки подключения»")
    voltage_kv: str | None = Field(description="«Уровень напряжения», kV, a decimal string")
    max_power_kw: str | None = Field(description="«Максимальная мощность», kW, a decimal string")
    grid_company: str | None = Field(description="«Сетевая организация»")
    attributes: dict[str, str] = Field(description=_ATTRIBUTES)


class MeteringPointBlock(BaseModel):
    """«Характеристики точки учёта» (the seed shows no fields; the registry's)."""

    model_config = _config(
        {
            "type": "metering_point",
            "title": BLOCK_TITLES["metering_point"],
            "as_of": _AS_OF,
            "name": "ВРУ-1, ввод 1",
            "number": "1",
            "ats_code": "770000000000101",
            "attributes": {},
        }
    )

    type: Literal["metering_point"]
    title: str = _title()
    as_of: str | None = _as_of()
    name: str = Field(description="«Наименование точки учёта»")
    number: str = Field(description="«Номер точки учёта»")
    ats_code: str | None = Field(description="«Код точки измерения» in ATS 80020 files")
    attributes: dict[str, str] = Field(description=_ATTRIBUTES)


class IdentificationBlock(BaseModel):
    """«Идентификационные данные» (S001 Fig. 169)."""

    model_config = _config(
        {
            "type": "identification",
            "title": BLOCK_TITLES["identification"],
            "as_of": _AS_OF,
            "meter_id": "m230-40680048",
            "mac_address": "8DC80DFEFF840D04",
            "model": "300.131RAL",
            "serial_number": "22305560",
        }
    )

    type: Literal["identification"]
    title: str = _title()
    as_of: str | None = _as_of()
    meter_id: str = Field(description="the id the collectors publish the meter under")
    mac_address: str | None = Field(description="«Мас-адрес»: 12 or 16 hex digits")
    model: str | None = Field(description="«Модель»")
    serial_number: str | None = Field(description="«Серийный(заводской) номер»")


class LifeCycleBlock(BaseModel):
    """«Жизненный цикл и состояние ИПУ» (S001 Fig. 169)."""

    model_config = _config(
        {
            "type": "life_cycle",
            "title": BLOCK_TITLES["life_cycle"],
            "as_of": _AS_OF,
            "commissioned_on": "2023-04-24",
            "isu_connected_on": "2023-04-24",
            "registered": True,
        }
    )

    type: Literal["life_cycle"]
    title: str = _title()
    as_of: str | None = _as_of()
    commissioned_on: date | None = Field(description="«Дата ввода в эксплуатацию»")
    isu_connected_on: date | None = Field(description="«Дата подключения к ИСУ»")
    registered: bool = Field(
        description="false: seen on the wire but not placed in the registry («не назначен»)"
    )


class MetrologyBlock(BaseModel):
    """«Метрологический статус и характеристики ИПУ» (S001 Fig. 169)."""

    model_config = _config(
        {
            "type": "metrology",
            "title": BLOCK_TITLES["metrology"],
            "as_of": _AS_OF,
            "verified_on": "2022-08-01",
            "next_verification_on": "2038-08-01",
        }
    )

    type: Literal["metrology"]
    title: str = _title()
    as_of: str | None = _as_of()
    verified_on: date | None = Field(description="«Дата и время последней проведённой поверки»")
    next_verification_on: date | None = Field(
        description="«Дата и время следующей поверки»: the end of the МПИ"
    )


class ModelPassportBlock(BaseModel):
    """«Электротехнические и метрологические характеристики модели ИПУ (из паспорта модели)»."""

    model_config = _config(
        {
            "type": "model_passport",
            "title": BLOCK_TITLES["model_passport"],
            "as_of": _AS_OF,
            "model": "Меркурий 234 ARTM-03",
            "accuracy_class": "0,5S/1,0",
            "rated_voltage_v": "230",
            "rated_current_a": "5(10)",
            "phases": 3,
        }
    )

    type: Literal["model_passport"]
    title: str = _title()
    as_of: str | None = _as_of()
    model: str | None = Field(description="«Модель»")
    accuracy_class: str | None = Field(description="«Класс точности» (active/reactive)")
    rated_voltage_v: str | None = Field(description="«Номинальное напряжение», V")
    rated_current_a: str | None = Field(description="«Номинальный (максимальный) ток», A")
    phases: int | None = Field(description="«Количество фаз»: 1 or 3")


class InstallationBlock(BaseModel):
    """«Данные установки»."""

    model_config = _config(
        {
            "type": "installation",
            "title": BLOCK_TITLES["installation"],
            "as_of": _AS_OF,
            "installed_on": "2023-04-20",
            "install_place": "ВРУ-1, щит учёта",
            "metering_point": "1",
            "metering_point_name": "ВРУ-1, ввод 1",
            "ats_code": "770000000000101",
        }
    )

    type: Literal["installation"]
    title: str = _title()
    as_of: str | None = _as_of()
    installed_on: date | None = Field(description="«Дата установки»")
    install_place: str | None = Field(description="«Место установки»")
    metering_point: str | None = Field(description="«Номер точки учёта» the meter is under")
    metering_point_name: str | None = Field(description="«Наименование точки учёта»")
    ats_code: str | None = Field(description="the metering point's ATS 80020 code")


class CharacteristicsBlock(BaseModel):
    """«Характеристики»: what turns the meter's values into billing values."""

    model_config = _config(
        {
            "type": "characteristics",
            "title": BLOCK_TITLES["characteristics"],
            "as_of": _AS_OF,
            "capacity": "6.2",
            "ct_ratio": "40",
            "vt_ratio": "1",
            "ratio": "40",
            "time_zone": "Europe/Moscow",
            "attributes": {"Пломба": "№ 0012345"},
        }
    )

    type: Literal["characteristics"]
    title: str = _title()
    as_of: str | None = _as_of()
    capacity: str | None = Field(
        description="«Значность»: integer and fraction digits of the registers, "
        "'6.2' (the cabinet writes 6,2)"
    )
    ct_ratio: str = Field(description="«Коэффициент трансформации ТТ»")
    vt_ratio: str = Field(description="«Коэффициент трансформации ТН»")
    ratio: str = Field(description="«Расчётный коэффициент»: ct_ratio × vt_ratio")
    time_zone: str = Field(description="IANA zone of the meter's times")
    attributes: dict[str, str] = Field(description=_ATTRIBUTES)


class ConsumerBlock(BaseModel):
    """«Характеристики Потребителя»: from the meter's contract."""

    model_config = _config(
        {
            "type": "consumer",
            "title": BLOCK_TITLES["consumer"],
            "as_of": _AS_OF,
            "name": "ООО «Пример»",
            "inn": "7700000002",
        }
    )

    type: Literal["consumer"]
    title: str = _title()
    as_of: str | None = _as_of()
    name: str | None = Field(description="«Наименование потребителя»")
    inn: str | None = Field(description="«ИНН потребителя»")


class ContractBlock(BaseModel):
    """«Характеристики договора»: the meter's contract and energy object."""

    model_config = _config(
        {
            "type": "contract",
            "title": BLOCK_TITLES["contract"],
            "as_of": _AS_OF,
            "number": "321654988",
            "name": "Стенд МЭС с СКЗИ-3ф ЮЛ",
            "signed_on": "2023-04-01",
            "zone_schedule": "three-zone",
            "energy_object": "3216549882",
            "energy_object_name": "Стенд МЭС с СКЗИ-3ф ЮЛ",
            "attributes": {"Категория": "III"},
        }
    )

    type: Literal["contract"]
    title: str = _title()
    as_of: str | None = _as_of()
    number: str | None = Field(description="«Номер договора»")
    name: str | None = Field(description="«Наименование договора»")
    signed_on: date | None = Field(description="«Дата заключения договора»")
    zone_schedule: str | None = Field(
        description="tariff zones: single, two-zone, three-zone or custom; null: the default"
    )
    energy_object: str | None = Field(description="«Номер энергообъекта» the meter is under")
    energy_object_name: str | None = Field(description="«Наименование энергообъекта»")
    attributes: dict[str, str] = Field(description=_ATTRIBUTES)


InformationBlock = Annotated[
    EnergyObjectBlock
    | ConnectionPointBlock
    | MeteringPointBlock
    | IdentificationBlock
    | LifeCycleBlock
    | MetrologyBlock
    | ModelPassportBlock
    | InstallationBlock
    | CharacteristicsBlock
    | ConsumerBlock
    | ContractBlock,
    Field(discriminator="type"),
]

_METER_BLOCKS = [
    example_of(model)
    for model in (
        IdentificationBlock,
        LifeCycleBlock,
        MetrologyBlock,
        ModelPassportBlock,
        InstallationBlock,
        CharacteristicsBlock,
        ConsumerBlock,
        ContractBlock,
    )
]


class NodeInformation(BaseModel):
    """The «Информация» page of one node of the tree (S001 §10.1)."""

    model_config = _config(
        {
            "id": "eo:12",
            "kind": "energy_object",
            "number": "3216549871",
            "name": "Стенд МЭС СКЗИ квартира",
            "contract": "321654987",
            "parent_id": None,
            "blocks": [example_of(EnergyObjectBlock)],
        }
    )

    id: str
    kind: NodeKind
    number: str
    name: str
    contract: str | None = Field(description="the contract's number; null for an unassigned meter")
    parent_id: str | None = Field(description="the node above; null for an energy object")
    blocks: list[InformationBlock] = Field(
        description="energy_object, connection_point or metering_point: one block of that type; "
        "meter: the eight blocks of GET /api/v1/meters/{meter_id}"
    )


class MeterInformation(BaseModel):
    """The «Информация» tab of one meter: eight blocks, always present, in the seed's order."""

    model_config = _config(
        {
            "meter_id": "m230-40680048",
            "node_id": "meter:m230-40680048",
            "parent_id": "mp:7",
            "contract": "321654988",
            "time_zone": "Europe/Moscow",
            "blocks": _METER_BLOCKS,
        }
    )

    meter_id: str
    node_id: str = Field(description="the meter's node id in the tree")
    parent_id: str | None = Field(description="its metering point's node; null when unassigned")
    contract: str | None = Field(description="the contract's number; null when unassigned")
    time_zone: str = Field(description="IANA zone whose offset the times carry")
    blocks: list[InformationBlock] = Field(
        description="identification, life_cycle, metrology, model_passport, installation, "
        "characteristics, consumer, contract"
    )
